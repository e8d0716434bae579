"""Search across a course's transcripts (docs/search.md).

On PostgreSQL: full-text search (`websearch_to_tsquery` on the cue text,
ranked with `ts_rank`, snippets from `ts_headline`) on a stored, generated
`search_vector` column with a GIN index (migration 0002, PostgreSQL only). Elsewhere
(SQLite in development): every word must appear (icontains), ranked by how
many times the words occur.

A hit is only ever a cue of a ready transcript of a recording the viewer may
watch (learners: ready recordings of this course; staff: all of them)."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from django.contrib.postgres.search import (
    SearchHeadline,
    SearchQuery,
    SearchRank,
    SearchVectorField,
)
from django.db import connection
from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.urls import reverse
from django.utils.translation import gettext as _

from core.errors import ValidationError
from playback.models import Recording, RecordingStatus
from transcripts.models import Cue, TranscriptStatus

SEARCH_CONFIG = "english"  # the text search configuration; the index is built with it
QUERY_MAX_CHARS = 200
QUERY_MAX_WORDS = 20
LIMIT_DEFAULT = 20
LIMIT_MAX = 100
OFFSET_MAX = 10_000
REWIND_MS = 3_000  # a hit opens a few seconds before the words are said
_MARK_ON, _MARK_OFF = "\ue000", "\ue001"  # private-use sentinels, escaped-then-marked
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class SearchPage:
    query: str
    count: int
    hits: list[dict]
    limit: int
    offset: int
    engine: str  # "postgres" | "basic"


def query_clean(raw) -> str:
    """The query as searched, or a ValidationError that says what is wrong."""
    text = " ".join(str(raw or "").split())
    if not text:
        raise ValidationError(
            _("Type a word or a phrase to search for."),
            code="query_empty",
            details={"q": "required"},
        )
    if len(text) > QUERY_MAX_CHARS:
        raise ValidationError(
            _("The search is too long: at most %(n)d characters.") % {"n": QUERY_MAX_CHARS},
            code="query_too_long",
            details={"q": f"at most {QUERY_MAX_CHARS} characters"},
        )
    words = _WORD.findall(text)
    if not words:
        raise ValidationError(
            _("Search for words: punctuation alone finds nothing."),
            code="query_no_words",
            details={"q": "at least one letter or digit"},
        )
    if len(words) > QUERY_MAX_WORDS:
        raise ValidationError(
            _("The search has too many words: at most %(n)d.") % {"n": QUERY_MAX_WORDS},
            code="query_too_long",
            details={"q": f"at most {QUERY_MAX_WORDS} words"},
        )
    return text


def searchable_recordings(*, course, is_staff: bool):
    recordings = Recording.objects.filter(course=course)
    if not is_staff:
        recordings = recordings.filter(status=RecordingStatus.READY)
    return recordings


def uses_full_text() -> bool:
    return connection.vendor == "postgresql"


def moment_url(recording_id: int, start_ms: int) -> str:
    second = max(0, int(start_ms) - REWIND_MS) // 1000
    return f"{reverse('recording-detail', args=[recording_id])}?t={second}"


def clock(ms: int) -> str:
    seconds = max(0, int(ms)) // 1000
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def _marked(text: str) -> str:
    """Text with sentinel marks → safe HTML with <mark>. Unbalanced sentinels
    (the cue itself held one) are dropped."""
    safe = html.escape(text)
    if safe.count(_MARK_ON) != safe.count(_MARK_OFF):
        return safe.replace(_MARK_ON, "").replace(_MARK_OFF, "")
    return safe.replace(_MARK_ON, "<mark>").replace(_MARK_OFF, "</mark>")


def highlight(text: str, words: list[str]) -> str:
    """Safe HTML of `text` with every occurrence of the words marked."""
    terms = sorted({w.casefold() for w in words if w}, key=len, reverse=True)
    if not terms:
        return html.escape(text)
    pattern = re.compile("|".join(re.escape(term) for term in terms), re.IGNORECASE)
    marked = pattern.sub(
        lambda m: f"{_MARK_ON}{m.group(0)}{_MARK_OFF}",
        text.replace(_MARK_ON, "").replace(_MARK_OFF, ""),
    )
    return _marked(marked)


def _hit(cue: Cue, recording: Recording, snippet_html: str, rank: float) -> dict:
    return {
        "cue_id": cue.pk,
        "recording_id": recording.pk,
        "recording_title": recording.title,
        "live_session_id": recording.live_session_id,
        "start_ms": cue.start_ms,
        "end_ms": cue.end_ms,
        "time": clock(cue.start_ms),
        "speaker": cue.speaker,
        "text": cue.text,
        "snippet_html": snippet_html,
        "rank": round(float(rank), 6),
        "url": moment_url(recording.pk, cue.start_ms),
        "start_s": max(0, int(cue.start_ms) - REWIND_MS) // 1000,  # the room opens here
    }


def course_transcript_search(
    *, course, is_staff: bool, query: str, limit: int = LIMIT_DEFAULT, offset: int = 0
) -> SearchPage:
    """Ranked hits of a (cleaned) query in the course's transcripts."""
    limit = max(1, min(LIMIT_MAX, int(limit)))
    offset = max(0, min(OFFSET_MAX, int(offset)))
    cues = Cue.objects.filter(
        transcript__recording__in=searchable_recordings(course=course, is_staff=is_staff),
        transcript__status=TranscriptStatus.READY,
    )
    if uses_full_text():
        return _postgres(cues, query=query, limit=limit, offset=offset)
    return _basic(cues, query=query, limit=limit, offset=offset)


def _postgres(cues, *, query: str, limit: int, offset: int) -> SearchPage:
    search = SearchQuery(query, config=SEARCH_CONFIG, search_type="websearch")
    # The stored, generated column of migration 0002 (GIN-indexed).
    vector = RawSQL('"transcripts_cue"."search_vector"', [], output_field=SearchVectorField())
    matching = cues.annotate(document=vector).filter(document=search)
    count = matching.count()
    rows = list(
        matching.annotate(
            rank=SearchRank(vector, search),
            snippet=SearchHeadline(
                "text",
                search,
                config=SEARCH_CONFIG,
                start_sel=_MARK_ON,
                stop_sel=_MARK_OFF,
                highlight_all=True,
            ),
        )
        .select_related("transcript__recording")
        .order_by("-rank", "-transcript__recording__created_at", "start_ms", "id")[
            offset : offset + limit
        ]
    )
    hits = [_hit(cue, cue.transcript.recording, _marked(cue.snippet), cue.rank) for cue in rows]
    return SearchPage(query, count, hits, limit, offset, "postgres")


def _basic(cues, *, query: str, limit: int, offset: int) -> SearchPage:
    words = _WORD.findall(query)
    condition = Q()
    for word in words:
        condition &= Q(text__icontains=word)
    matching = list(
        cues.filter(condition)
        .select_related("transcript__recording")
        .order_by("-transcript__recording__created_at", "start_ms", "id")[:OFFSET_MAX]
    )
    folded = [w.casefold() for w in words]

    def score(cue: Cue) -> int:
        text = cue.text.casefold()
        return sum(text.count(word) for word in folded)

    ranked = sorted(matching, key=lambda cue: -score(cue))  # stable: recency, time kept
    hits = [
        _hit(cue, cue.transcript.recording, highlight(cue.text, words), score(cue))
        for cue in ranked[offset : offset + limit]
    ]
    return SearchPage(query, len(matching), hits, limit, offset, "basic")
