"""Shared builders of the recap and transcript-search tests: recordings
without media files (their rows only) and ready transcripts of given lines."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from classroom.models import SessionState
from playback.models import Recording, RecordingSpan, RecordingStatus
from tests.factories import LiveSessionFactory
from transcripts.models import Cue, Transcript


def ended_session(course, *, title="Supply and demand", minutes=50):
    start = timezone.now() - timedelta(days=1)
    return LiveSessionFactory(
        course=course,
        title=title,
        scheduled_start=start,
        scheduled_end=start + timedelta(minutes=minutes),
        state=SessionState.ENDED,
        started_at=start,
        ended_at=start + timedelta(minutes=minutes),
    )


def recording_row(course, *, session=None, title="Lecture", status=RecordingStatus.READY,
                  minutes=50) -> Recording:  # fmt: skip
    """A recording row (no media file needed by search or recaps); media time
    zero is the session's start."""
    recording = Recording.objects.create(
        course=course,
        live_session=session,
        title=title,
        status=status,
        duration_ms=minutes * 60_000,
        file=f"recordings/course-{course.pk}/{title}.webm",
        mime_type="video/webm",
        recorded_from=session.started_at if session else None,
    )
    if session is not None:
        RecordingSpan.objects.create(
            recording=recording,
            started_at=session.started_at,
            ended_at=session.started_at + timedelta(minutes=minutes),
            media_offset_ms=0,
        )
    return recording


def transcript_of(recording, lines, *, status="ready") -> Transcript:
    """A transcript: `lines` are (start seconds, text) or (start, text, speaker);
    each cue lasts until the next one starts (4 s for the last)."""
    transcript = Transcript.objects.create(recording=recording, status=status, progress=1.0)
    cues = []
    for index, line in enumerate(lines):
        start, text, *rest = line
        end = lines[index + 1][0] if index + 1 < len(lines) else start + 4
        cues.append(
            Cue(
                transcript=transcript,
                index=index,
                start_ms=int(start * 1000),
                end_ms=int(max(end, start + 0.5) * 1000),
                text=text,
                speaker=rest[0] if rest else "",
            )
        )
    Cue.objects.bulk_create(cues)
    return transcript


LECTURE = [
    (0, "Good morning everyone, today we look at supply and demand.", "Dr Rivera"),
    (
        6,
        "The supply curve slopes upward because producers sell more when prices rise.",
        "Dr Rivera",
    ),
    (14, "Demand curves slope downward because of diminishing marginal utility.", "Dr Rivera"),
    (22, "Okay.", "Dr Rivera"),
    (
        25,
        "Market equilibrium is the price where the quantity supplied equals the quantity demanded.",
        "Dr Rivera",
    ),
    (
        34,
        "A tax on producers shifts the supply curve to the left and raises the equilibrium price.",
        "Dr Rivera",
    ),
    (
        44,
        "Price elasticity of demand measures how strongly the quantity demanded responds to a price change.",
        "Dr Rivera",
    ),
    (55, "Right, so.", "Dr Rivera"),
    (
        58,
        "Inelastic goods like insulin keep their demand even when their price rises sharply.",
        "Dr Rivera",
    ),
    (66, "So what happens to equilibrium when demand rises and supply stays the same?", "Sam"),
    (72, "The equilibrium price rises and the equilibrium quantity rises too.", "Dr Rivera"),
]
