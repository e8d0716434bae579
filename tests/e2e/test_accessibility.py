"""WCAG 2.1 AA on every page, as each kind of user meets it: in real Chromium
against Daphne on the demo data (`seed_demo`), an instructor, a learner
and a platform admin each log in and walk the site by its own links (home,
courses, sessions, consoles, plans, seating, recordings, transcripts, LMS and
roster pages, and whatever pages a new app links), and axe-core (tests/e2e/axe.py) checks every
page they reach against the WCAG 2.0/2.1 A and AA rules. A serious or
critical violation fails the test with the page, the rule and the elements.

The walk follows links, so a new page is checked once something links to it;
one page per URL shape (numbers folded) keeps the walk short."""

from __future__ import annotations

import re
from collections import deque
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from django.core.management import call_command

from tests.e2e.axe import axe_violations

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]

DEMO_PASSWORD = "roundtable-demo"
PAGES_PER_USER = 20
# Not pages of ours, not pages at all, or pages that end the walk.
SKIP = re.compile(
    r"^/(accounts/logout|admin/|api/|static/|media/|lti/(jwks|login|launch)|__)"
    r"|\.(csv|jsonl|json|webm|mp4|vtt|m3u8|txt|ics)$|/(download|export|stream|file)/?$"
)
SERIOUS = {"serious", "critical"}


def _shape(path: str) -> str:
    return re.sub(r"/\d+", "/N", path)


def _walk(browser, base: str, username: str, shots: Path) -> dict[str, list]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r".*/$"))
    queue, seen_shapes, found = deque(["/"]), set(), {}
    while queue and len(found) < PAGES_PER_USER:
        path = queue.popleft()
        shape = _shape(path)
        if shape in seen_shapes:
            continue
        seen_shapes.add(shape)
        response = page.goto(base + path, wait_until="load")
        if (
            response is None
            or response.status >= 400
            or "text/html" not in (response.headers.get("content-type", ""))
        ):
            continue
        page.wait_for_timeout(300)  # scripts render their first state
        found[path] = [v for v in axe_violations(page) if v["impact"] in SERIOUS]
        page.screenshot(path=str(shots / f"{username}-{len(found):02d}.png"), full_page=True)
        for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"):
            parts = urlsplit(urljoin(base + path, href))
            if parts.netloc != urlsplit(base).netloc or SKIP.search(parts.path):
                continue
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            if _shape(parts.path) not in seen_shapes:
                queue.append(target)
    context.close()
    return found


def test_every_page_a_user_reaches_passes_axe_wcag_aa(browser, asgi_server, output_dir):
    call_command("seed_demo", verbosity=0)
    problems, walked = [], {}
    for username in ("instructor", "learner01", "admin"):  # a TA sees what an instructor sees
        found = _walk(browser, asgi_server, username, output_dir)
        walked[username] = sorted(found)
        for path, violations in found.items():
            for violation in violations:
                problems.append(
                    f"{username} {path}: {violation['id']} ({violation['impact']}) "
                    f"{violation['help']} at {violation['targets']}"
                )
    print("pages walked:", walked)
    # The walk reached the site, not only the home page.
    assert all(len(paths) >= 3 for paths in walked.values()), walked
    assert not problems, "\n".join(problems)
