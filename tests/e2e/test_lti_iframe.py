"""An LTI launch inside an LMS iframe with third-party cookies blocked.

The LMS (tests/lti/platform.py) runs on 127.0.0.1, Roundtable on localhost:
different sites, so everything Roundtable sets inside the frame is a
third-party cookie. Three ways the launch still lands: the partitioned (CHIPS)
state and session cookies; platform storage (postMessage) when the state
cookie is dropped; the new-window path when neither is available.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from lti.services import registration_create
from tests.factories import UserFactory
from tests.lti.platform import Platform

INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"


class _BlockingBrowser:
    """Pages and contexts whose browser blocks third-party cookies (the
    DevTools protocol's cookie controls, as the settings page sets them)."""

    def __init__(self, browser):
        self.browser = browser

    def new_context(self):
        return self.browser.new_context()

    def block(self, page):
        cdp = page.context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send(
            "Network.setCookieControls",
            {
                "enableThirdPartyCookieRestriction": True,
                "disableThirdPartyCookieMetadata": True,
                "disableThirdPartyCookieHeuristics": True,
            },
        )
        return page

    def new_page(self, context=None):
        context = context or self.browser.new_context()
        return self.block(context.new_page())


@pytest.fixture(scope="module")
def blocking_browser(browser):
    from tests.conftest import require_chromium
    from tests.e2e.conftest import CHROMIUM_ARGS

    # Responses a test rewrites (route.fulfill) carry no IP address, and
    # Chromium's local-network checks would then refuse the platform's
    # loopback address that follows: a test artefact, so they are off here.
    instance = browser.browser_type.launch(
        executable_path=require_chromium(),
        args=[*CHROMIUM_ARGS, "--disable-features=LocalNetworkAccessChecks"],
        headless=True,
    )
    yield _BlockingBrowser(instance)
    instance.close()


@pytest.fixture
def lms(live_server, transactional_db):
    platform = Platform().start()
    tool = live_server.url.replace("127.0.0.1", "localhost")
    platform.redirect_uris = [tool + "/lti/launch/"]
    registration_create(
        issuer=platform.issuer,
        client_id=platform.client_id,
        auth_login_url=platform.auth_url,
        keyset_url=platform.jwks_url,
        deployment_ids=[platform.deployment_id],
    )
    yield platform, tool
    platform.stop()


def _course_url(platform, tool, **extra) -> str:
    hint = platform.plan(platform.base_claims(sub="teacher-1", roles=[INSTRUCTOR]))
    login = tool + "/lti/login/?" + urlencode(platform.login_params(hint, **extra))
    return platform.url + "/course?" + urlencode({"tool": login})


def _drop_state_cookie(route):
    """A browser that drops the state cookie (all third-party cookies)."""
    response = route.fetch(max_redirects=0)
    headers = {k: v for k, v in response.headers.items() if k.lower() != "set-cookie"}
    route.fulfill(response=response, headers=headers)


def test_third_party_cookies_are_really_blocked(blocking_browser, lms):
    """A plain SameSite=None cookie set inside the frame is not sent back."""
    platform, _ = lms
    third_party = platform.url.replace("127.0.0.1", "localhost")
    page = blocking_browser.new_page()
    for probe in ("/probe-set", "/probe-read"):
        page.goto(platform.url + "/course?" + urlencode({"tool": third_party + probe}))
        page.frame_locator("#tool").locator("body").wait_for()
    assert platform.probe_cookies and "probe=1" not in platform.probe_cookies[-1]
    # The same cookie first-party is kept: the probe itself works.
    page.goto(third_party + "/probe-set")
    page.goto(third_party + "/probe-read")
    assert "probe=1" in platform.probe_cookies[-1]
    page.close()


def test_launch_in_iframe_lands_with_partitioned_cookies(blocking_browser, lms, output_dir):
    platform, tool = lms
    page = blocking_browser.new_page()
    page.goto(_course_url(platform, tool))
    frame = page.frame_locator("#tool")
    frame.get_by_role("heading", name="Biology 101").wait_for(timeout=15000)
    page.screenshot(path=str(output_dir / "lti-iframe-course.png"))
    assert page.frame(url=lambda url: "/courses/" in url) is not None
    page.close()


def test_launch_in_iframe_uses_platform_storage_when_the_cookie_is_dropped(blocking_browser, lms):
    platform, tool = lms
    page = blocking_browser.new_page()
    page.route(tool + "/lti/login/*", _drop_state_cookie)
    checked = []
    page.on(
        "response",
        lambda r: checked.append(r.status) if r.url == tool + "/lti/launch/" else None,
    )
    console = []
    page.on("console", lambda message: console.append(message.text))
    page.on("requestfailed", lambda r: console.append((r.url[:80], r.failure)))
    page.goto(_course_url(platform, tool, lti_storage_target="_parent"))
    try:
        page.frame_locator("#tool").get_by_role("heading", name="Biology 101").wait_for(
            timeout=15000
        )
    except Exception:
        frames = [(frame.url, frame.content()[:400]) for frame in page.frames]
        raise AssertionError(
            f"not landed: {checked} {console} {platform.errors} {frames}"
        ) from None
    # First POST answered the storage check page (200), the second redirected.
    assert checked[:2] == [200, 302]
    page.close()


def test_launch_without_cookie_or_storage_opens_a_new_window(blocking_browser, lms, output_dir):
    platform, tool = lms
    context = blocking_browser.new_context()
    context.on("page", blocking_browser.block)
    page = blocking_browser.new_page(context)
    page.route(tool + "/lti/login/*", _drop_state_cookie)
    page.goto(_course_url(platform, tool))
    frame = page.frame_locator("#tool")
    link = frame.get_by_role("link", name="Open in a new window")
    link.wait_for(timeout=15000)
    page.screenshot(path=str(output_dir / "lti-new-window-offer.png"))
    _replan_same_hint(platform)
    with context.expect_page() as popup_info:
        link.click()
    popup = popup_info.value
    popup.get_by_role("heading", name="Biology 101").wait_for(timeout=15000)
    assert "/courses/" in popup.url
    context.close()


def _replan_same_hint(platform):
    """The LMS answers the restarted login for the same login_hint."""
    used = platform.last_hint
    platform.pending[used] = platform.last_plan


def test_lti_pages_pass_axe_and_look_right(blocking_browser, lms, live_server, output_dir):
    """The pages the tool shows people (setup, error, deep-link choice, the
    LMS services page, the course link choice): screenshots, and axe WCAG 2.1
    AA without serious or critical violations."""
    from datetime import timedelta

    from django.utils import timezone

    from courses.models import Role
    from lti.models import DeepLinkSession, Deployment, LtiContext
    from tests.e2e.axe import axe_violations
    from tests.factories import CourseFactory, EnrollmentFactory, LiveSessionFactory

    platform, tool = lms
    admin = UserFactory(is_staff=True, username="lti-admin")
    course, other = CourseFactory(title="Biology 101"), CourseFactory(title="Biology (old)")
    for each in (course, other):
        EnrollmentFactory(user=admin, course=each, role=Role.INSTRUCTOR)
    LiveSessionFactory(course=course, title="Week 1 seminar")
    deployment = Deployment.objects.get()
    context = LtiContext.objects.create(
        deployment=deployment,
        context_id="ctx-axe",
        course=course,
        lineitems_url=platform.url + "/ags/ctx-axe/lineitems",
        memberships_url=platform.url + "/nrps/ctx-axe",
    )
    DeepLinkSession.objects.create(
        token="axe-token",
        user=admin,
        deployment=deployment,
        course=course,
        settings={"deep_link_return_url": platform.url + "/deep-link-return"},
        expires_at=timezone.now() + timedelta(minutes=30),
    )
    page = blocking_browser.new_page()
    page.goto(live_server.url + "/accounts/login/")
    page.fill("input[name=username]", admin.username)
    page.fill("input[name=password]", "correct-horse-battery")
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
    problems = []
    pages = {
        "setup": "/lti/setup/",
        "error": "/lti/login/?iss=https://unknown.example&login_hint=x"
        "&target_link_uri=x&client_id=nobody",
        "deep-link": "/lti/deep-link/axe-token/",
        "services": f"/lti/contexts/{context.pk}/services/",
        "context-link": f"/lti/contexts/{context.pk}/link/",
    }
    for name, path in pages.items():
        page.goto(live_server.url + path)
        page.screenshot(path=str(output_dir / f"lti-{name}.png"), full_page=True)
        for violation in axe_violations(page):
            if violation["impact"] in ("serious", "critical"):
                problems.append(
                    f"{path}: {violation['id']} {violation['help']} {violation['targets']}"
                )
        if name == "error":
            assert "lti_unknown_registration" in page.content()
        if name == "deep-link":
            assert "Week 1 seminar" in page.content()
        if name == "setup":
            assert "microphone" in page.content() and "Canvas" in page.content()
    page.close()
    assert not problems, "\n".join(problems)
