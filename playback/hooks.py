"""playback's registrations on the layers below it: the live room's hooks
(classroom/hooks.py) and livemedia's recording store (playback/capture.py);
and playback's own extension points for the apps above it (core/hooks.py):

=================  ==============================  ===============================
hook               called by                       registered by
=================  ==============================  ===============================
timeline_built     recording_timeline_build        reinforcement (re-plan follow-up)
recording_ready    recording upload / ingest       transcripts (queue the ASR job)
player_captions    the player page (views)         transcripts (<track> elements)
recording_panels   a recording's page (views)      transcripts (captions panel); recaps (recap link)
player_panels      the player page (views)         transcripts via recaps (the transcript tab)
=================  ==============================  ===============================
"""

from __future__ import annotations

from classroom import hooks
from classroom.models import LiveSession, SessionState
from core.hooks import Hook
from livemedia.recording import recording_store_register
from playback.capture import PlaybackRecordingStore
from playback.selectors import session_recordings_get
from playback.services.recordings import demo_recording_ensure

timeline_built = Hook(
    "timeline_built",
    "timeline_built(recording_id=int, live_session_id=int | None): a recording's "
    "timeline was (re)built; called inside the build's transaction (act after commit).",
)

recording_ready = Hook(
    "recording_ready",
    "recording_ready(recording_id=int): a recording became ready (its file is "
    "complete and verified); called inside the transaction that made it ready "
    "(act after commit).",
)

player_captions = Hook(
    "player_captions",
    "player_captions(recording=Recording, user=User) -> list[dict]: the player's "
    "<track> elements, each {src, srclang, label, kind, default}.",
)

recording_panels = Hook(
    "recording_panels",
    "recording_panels(request=HttpRequest, access=RecordingAccess) -> str: HTML "
    "(already escaped) of a section shown on the recording's page; '' for none.",
)

player_panels = Hook(
    "player_panels",
    "player_panels(access=RoomAccess) -> dict | None: a tab of the player's side "
    "panel: {id, label, template, context, count?} and/or {links: [{label, url}]} "
    "shown under the title; the template is included with `panel` (the dict).",
)


def past_sessions_replays(*, sessions: list, is_staff: bool) -> None:
    """The course page: each past session's replay (`session.replay`)."""
    replays = session_recordings_get(
        session_ids=[session.pk for session in sessions], is_staff=is_staff
    )
    for session in sessions:
        session.replay = replays.get(session.pk)


def demo_recording_seed(*, course, stdout) -> None:
    """seed_demo: the past session's recording with its timeline (generated
    with PyAV, idempotent)."""
    past = LiveSession.objects.filter(course=course, state=SessionState.ENDED).first()
    if past is not None:
        recording = demo_recording_ensure(course, past, seconds=90)
        stdout.write(f"  Recording:  {recording.title} ({recording.get_status_display()})")


def register() -> None:
    recording_store_register(PlaybackRecordingStore())
    hooks.past_sessions_shown.register(past_sessions_replays)
    hooks.demo_seeded.register(demo_recording_seed)
