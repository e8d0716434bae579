"""Course transcript search: the PostgreSQL full-text path and the plain
fallback, permissions (never another course's text, learners never a
recording they may not watch), bad queries as clear 4xx, page and API."""

from __future__ import annotations

import pytest
from django.db import connection
from django.urls import reverse

from playback.models import RecordingStatus
from tests.conftest import require
from tests.recaps.helpers import LECTURE, ended_session, recording_row, transcript_of
from transcripts import search
from transcripts.search import course_transcript_search, highlight, query_clean

pytestmark = pytest.mark.django_db


@pytest.fixture
def corpus(course, other_course):
    """This course: a ready lecture, a ready recording with a pending
    transcript, a recording still processing (staff only). Another course:
    the same words, which must never be found from this one."""
    session = ended_session(course)
    lecture = recording_row(course, session=session, title="Week 1 lecture")
    transcript_of(lecture, LECTURE)
    pending = recording_row(course, title="Week 2")
    transcript_of(pending, [(0, "Equilibrium in the pending transcript.")], status="running")
    processing = recording_row(course, title="Week 3 draft", status=RecordingStatus.PROCESSING)
    transcript_of(processing, [(5, "Equilibrium of a recording still processing.")])
    foreign = recording_row(other_course, title="Secret lecture")
    transcript_of(
        foreign, [(3, "Equilibrium secrets of another course: the password is swordfish.")]
    )
    return {"lecture": lecture, "processing": processing, "foreign": foreign}


def _titles(page):
    return [hit["recording_title"] for hit in page.hits]


def test_full_text_search_ranks_stems_and_marks_snippets(corpus, course):
    require(connection.vendor == "postgresql", "full-text search needs PostgreSQL")
    page = course_transcript_search(course=course, is_staff=False, query="equilibrium prices")
    assert page.engine == "postgres"
    # Stemming: "prices" finds "price"/"prices"; both words must be in the line.
    texts = [hit["text"] for hit in page.hits]
    assert texts and all("quilibrium" in t and "price" in t for t in texts)
    assert page.count == len(page.hits) == 3
    assert all("<mark>" in hit["snippet_html"] for hit in page.hits)
    assert _titles(page) == ["Week 1 lecture"] * 3
    ranks = [hit["rank"] for hit in page.hits]
    assert ranks == sorted(ranks, reverse=True)
    # Phrase and exclusion (websearch syntax).
    phrase = course_transcript_search(course=course, is_staff=False, query='"supply curve"')
    assert {hit["start_ms"] for hit in phrase.hits} == {6000, 34000}
    minus = course_transcript_search(course=course, is_staff=False, query="supply curve -tax")
    assert {hit["start_ms"] for hit in minus.hits} == {6000}


def test_full_text_index_is_used(corpus, course):
    require(connection.vendor == "postgresql", "full-text search needs PostgreSQL")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'transcripts_cue_text_fts'"
        )
        (definition,) = cursor.fetchone()
    assert "gin" in definition and "search_vector" in definition
    # The search's queries (count and page) test the stored column, which the
    # index serves (on a table this small the planner may prefer another
    # index; bench/transcript_search.py measures a large one).
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        course_transcript_search(course=course, is_staff=False, query="equilibrium")
    searches = [q["sql"] for q in queries.captured_queries if "@@" in q["sql"]]
    assert len(searches) == 2
    assert all('"transcripts_cue"."search_vector") @@' in sql for sql in searches), searches
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        cursor.execute(
            "EXPLAIN SELECT id FROM transcripts_cue WHERE search_vector @@ "
            "websearch_to_tsquery('english'::regconfig, 'equilibrium')"
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("SET enable_seqscan = on")
    assert "transcripts_cue_text_fts" in plan, plan


@pytest.mark.parametrize("full_text", [True, False], ids=["postgres", "fallback"])
def test_learners_find_only_their_courses_ready_recordings(corpus, course, full_text, monkeypatch):
    if full_text:
        require(connection.vendor == "postgresql", "full-text search needs PostgreSQL")
    else:
        monkeypatch.setattr(search, "uses_full_text", lambda: False)
    learner_page = course_transcript_search(course=course, is_staff=False, query="equilibrium")
    assert learner_page.engine == ("postgres" if full_text else "basic")
    assert set(_titles(learner_page)) == {"Week 1 lecture"}
    staff_page = course_transcript_search(course=course, is_staff=True, query="equilibrium")
    assert set(_titles(staff_page)) == {"Week 1 lecture", "Week 3 draft"}
    for page in (learner_page, staff_page):
        assert not any("swordfish" in hit["text"] for hit in page.hits)
    nothing = course_transcript_search(course=course, is_staff=True, query="swordfish")
    assert nothing.count == 0 and nothing.hits == []


def test_fallback_needs_every_word_and_highlights(corpus, course, monkeypatch):
    monkeypatch.setattr(search, "uses_full_text", lambda: False)
    page = course_transcript_search(course=course, is_staff=False, query="supply CURVE")
    assert page.engine == "basic"
    assert {hit["start_ms"] for hit in page.hits} == {6000, 34000}
    assert all(hit["snippet_html"].count("<mark>") >= 2 for hit in page.hits)
    assert "<mark>supply</mark> <mark>curve</mark>" in page.hits[0]["snippet_html"]


def test_hit_links_to_its_moment(corpus, course):
    page = course_transcript_search(course=course, is_staff=False, query="insulin")
    (hit,) = page.hits
    lecture = corpus["lecture"]
    # Three seconds before the line (58 s) → ?t=55 on the recording's page.
    assert hit["url"] == f"/recordings/{lecture.pk}/?t=55"
    assert hit["time"] == "0:58"
    assert hit["speaker"] == "Dr Rivera"


def test_highlight_escapes_html():
    html = highlight('<script>alert("x")</script> price', ["price", "script"])
    assert "<script>" not in html
    assert "&lt;<mark>script</mark>&gt;" in html
    assert html.endswith("<mark>price</mark>")


@pytest.mark.parametrize(
    ("raw", "code"),
    [("", "query_empty"), ("   ", "query_empty"), ("?!…—", "query_no_words"),
     ("x" * 201, "query_too_long"), (" ".join(["w"] * 21), "query_too_long")],
)  # fmt: skip
def test_bad_queries_say_what_is_wrong(raw, code):
    from core.errors import ValidationError

    with pytest.raises(ValidationError) as caught:
        query_clean(raw)
    assert caught.value.code == code


def test_stopwords_only_find_nothing_without_error(corpus, course):
    require(connection.vendor == "postgresql", "full-text search needs PostgreSQL")
    page = course_transcript_search(course=course, is_staff=False, query="the and of")
    assert page.count == 0 and page.hits == []


# --- Page and API ---------------------------------------------------------------------------


def test_page_lists_hits_for_a_learner_and_refuses_other_courses(
    client, corpus, course, learner, outsider
):
    client.force_login(learner)
    url = reverse("course-transcript-search", args=[course.pk])
    response = client.get(url, {"q": "equilibrium"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "Week 1 lecture" in body and "<mark>" in body
    assert f'href="/recordings/{corpus["lecture"].pk}/?t=' in body
    assert "Week 3 draft" not in body and "swordfish" not in body
    # The other course's page: a 404 for this learner (not enrolled there).
    other = reverse("course-transcript-search", args=[corpus["foreign"].course_id])
    assert client.get(other, {"q": "swordfish"}).status_code == 404
    # Its own instructor finds it there, and nothing from ours.
    client.force_login(outsider)
    response = client.get(other, {"q": "equilibrium"})
    assert "swordfish" in response.content.decode()
    assert "Week 1 lecture" not in response.content.decode()


def test_page_bad_queries_are_readable_400s(client, corpus, course, learner):
    client.force_login(learner)
    url = reverse("course-transcript-search", args=[course.pk])
    assert client.get(url).status_code == 200  # the empty form
    for raw, words in (("", "Type a word"), ("?!?", "punctuation"), ("x" * 300, "too long")):
        response = client.get(url, {"q": raw})
        assert response.status_code == 400
        assert words in response.content.decode()
    assert client.get(url, {"q": "equilibrium", "page": "abc"}).status_code == 200


def test_api_search_and_isolation(client, corpus, course, learner):
    client.force_login(learner)
    url = reverse("api-course-transcript-search", args=[course.pk])
    response = client.get(url, {"q": "equilibrium", "limit": 2})
    assert response.status_code == 200
    data = response.json()
    assert data["count"] == 4 and len(data["results"]) == 2 and data["limit"] == 2
    assert {r["recording_id"] for r in data["results"]} == {corpus["lecture"].pk}
    second = client.get(url, {"q": "equilibrium", "limit": 2, "offset": 3}).json()
    assert len(second["results"]) == 1
    assert second["results"][0]["cue_id"] not in {r["cue_id"] for r in data["results"]}
    other = reverse("api-course-transcript-search", args=[corpus["foreign"].course_id])
    refused = client.get(other, {"q": "swordfish"})
    assert refused.status_code == 404
    assert refused.json()["error"]["code"] == "course_not_found"
    for params, code in (({"q": ""}, "query_empty"), ({"q": "!!"}, "query_no_words"),
                         ({"q": "y" * 201}, "query_too_long")):  # fmt: skip
        bad = client.get(url, params)
        assert bad.status_code == 400 and bad.json()["error"]["code"] == code
    assert client.get(url, {"q": "a", "limit": 0}).status_code == 400
    assert client.get(url, {"q": "a", "limit": "x"}).status_code == 400
    client.logout()
    assert client.get(url, {"q": "equilibrium"}).status_code in (401, 403)
