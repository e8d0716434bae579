"""Key points of a transcript: one small interface and its offline default.

A summariser turns a recording's timed transcript into a few key points,
each tied to the moment it is said. `RECAP_SUMMARISER` (a dotted path) names
the class; the default, `TextRankSummariser`, ranks the transcript's own
sentences with TextRank (`summa`, offline, no model, no network). An
institution that runs a language model may plug in a class of its own with
the same method (docs/recaps.md); nothing here needs one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string


@dataclass(frozen=True)
class TimedText:
    """One transcript cue: its start and end (media ms) and what was said."""

    start_ms: int
    end_ms: int
    text: str
    speaker: str = ""


@dataclass(frozen=True)
class KeyPoint:
    text: str
    start_ms: int  # the moment it is said (the start of the cue it begins in)


class Summariser(Protocol):
    """The interface: `key_points(cues, limit=)` → at most `limit` points in
    time order. Must not raise on short or empty input (return [])."""

    name: str

    def key_points(self, cues: list[TimedText], *, limit: int) -> list[KeyPoint]: ...


_SENTENCE_END = re.compile(r"[.!?…]['\")\]]?$")
POINT_MAX_CHARS = 400


class TextRankSummariser:
    """Extractive: the transcript's most central sentences (TextRank, `summa`).

    Cues are joined into one text; when the cues carry no sentence punctuation
    (caption files often do not), each cue counts as a sentence. Every chosen
    sentence is mapped back to the cue it starts in."""

    name = "textrank"

    def key_points(self, cues: list[TimedText], *, limit: int) -> list[KeyPoint]:
        from summa import summarizer

        cues = [cue for cue in cues if cue.text.strip()]
        if not cues or limit <= 0:
            return []
        punctuated = sum(1 for cue in cues if _SENTENCE_END.search(cue.text.strip()))
        per_cue = punctuated * 3 < len(cues)
        pieces, starts = [], []
        position = 0
        for cue in cues:
            piece = " ".join(cue.text.split())
            if per_cue and not _SENTENCE_END.search(piece):
                piece += "."
            starts.append(position)
            pieces.append(piece)
            position += len(piece) + 1
        text = " ".join(pieces)
        try:
            ranked = summarizer.summarize(text, split=True, scores=True, ratio=1.0)
        except (ValueError, ZeroDivisionError, IndexError):
            ranked = []
        if not ranked:
            return []
        ranked = sorted(ranked, key=lambda item: -float(item[1]))
        chosen: list[KeyPoint] = []
        seen: set[str] = set()
        for sentence, _score in ranked:
            sentence = sentence.strip()
            if len(sentence.split()) < 4 or sentence.lower() in seen:
                continue  # "Okay." "Right, so." are not points
            seen.add(sentence.lower())
            at = text.find(sentence)
            index = _cue_at(starts, at if at >= 0 else 0)
            chosen.append(KeyPoint(text=_clip(sentence), start_ms=cues[index].start_ms))
            if len(chosen) >= limit:
                break
        return sorted(chosen, key=lambda point: point.start_ms)


def _cue_at(starts: list[int], offset: int) -> int:
    """The index of the cue whose text contains character `offset`."""
    low, high = 0, len(starts) - 1
    while low < high:
        middle = (low + high + 1) // 2
        if starts[middle] <= offset:
            low = middle
        else:
            high = middle - 1
    return low


def _clip(text: str) -> str:
    if len(text) <= POINT_MAX_CHARS:
        return text
    return text[: POINT_MAX_CHARS - 1].rsplit(" ", 1)[0] + "…"


def points_limit(cue_count: int) -> int:
    """3 points for a short talk, up to 8 for a long one (about one per 40 cues)."""
    return max(3, min(8, cue_count // 40))


def summariser_get() -> Summariser:
    path = getattr(settings, "RECAP_SUMMARISER", "") or "recaps.summarisers.TextRankSummariser"
    return import_string(path)()
