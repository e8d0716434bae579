"""recaps' registrations on the layers below it, and its own extension point.

=================  =====================================  ==========================
hook               called by                              registered by
=================  =====================================  ==========================
recap_published    recaps.services.recap_publish          reinforcement (tell the
                   (draft → published, inside its         learners whose follow-up
                   transaction)                           went out already)
=================  =====================================  ==========================

Below: the session's end, the recording's timeline and the transcript's
changes (re)build the recap (after commit, in a Celery task); the course page
links each past session's recap; the recording page and the player link it.
"""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext as _

from core.hooks import Hook

recap_published = Hook(
    "recap_published",
    "recap_published(recap_id=int, session_id=int): staff published a session's "
    "recap; called inside the publishing transaction (act after commit).",
)


def session_ended(*, session_id: int, actor) -> None:
    from recaps.services import recap_build_on_commit

    recap_build_on_commit(session_id)


def timeline_built(*, recording_id: int, live_session_id: int | None) -> None:
    from recaps.services import recap_build_on_commit

    if live_session_id is not None:
        recap_build_on_commit(live_session_id)


def transcript_changed(*, recording_id: int, **_kwargs) -> None:
    from playback.models import Recording
    from recaps.services import recap_build_on_commit

    session_id = (
        Recording.objects.filter(pk=recording_id).values_list("live_session_id", flat=True).first()
    )
    if session_id is not None:
        recap_build_on_commit(session_id)


def past_sessions_recaps(*, sessions: list, is_staff: bool) -> None:
    """The course page: each past session's recap (`session.recap_url`):
    published ones for everyone, drafts for staff."""
    from recaps.selectors import recaps_visible_for_sessions

    visible = recaps_visible_for_sessions(
        session_ids=[session.pk for session in sessions], is_staff=is_staff
    )
    for session in sessions:
        recap = visible.get(session.pk)
        session.recap_url = reverse("recap-detail", args=[session.pk]) if recap else ""
        session.recap_is_draft = bool(recap and not recap.is_published)


def _recap_link(recording, *, is_staff: bool) -> dict | None:
    """The session's recap for this viewer (learners: published), as a link."""
    from recaps.selectors import recaps_visible_for_sessions

    if recording.live_session_id is None:
        return None
    recap = recaps_visible_for_sessions(
        session_ids=[recording.live_session_id], is_staff=is_staff
    ).get(recording.live_session_id)
    if recap is None:
        return None
    label = _("Session recap") if recap.is_published else _("Session recap (draft)")
    return {"label": label, "url": reverse("recap-detail", args=[recording.live_session_id])}


def recording_recap_panel(*, request, access) -> str:
    """The recording page: a short section linking the session's recap."""
    from django.template.loader import render_to_string

    link = _recap_link(access.recording, is_staff=access.is_staff)
    if link is None:
        return ""
    return render_to_string("recaps/_recording_link.html", {"link": link}, request=request)


def player_recap_link(*, access) -> dict | None:
    """The player: the recap's link under the title."""
    link = _recap_link(access.recording, is_staff=access.is_staff)
    return {"links": [link]} if link else None


def course_page_links(*, course, is_staff: bool) -> list[dict]:
    """The course page: search what was said in the course's recordings."""
    return [
        {
            "label": _("Search recordings"),
            "url": reverse("course-transcript-search", args=[course.pk]),
            "section": "learning",
        }
    ]


def register() -> None:
    from classroom import hooks as classroom_hooks
    from playback import hooks as playback_hooks
    from transcripts import panel

    classroom_hooks.session_ended.register(session_ended)
    classroom_hooks.past_sessions_shown.register(past_sessions_recaps)
    classroom_hooks.course_page_links.register(course_page_links)
    playback_hooks.timeline_built.register(timeline_built)
    playback_hooks.recording_panels.register(recording_recap_panel)
    playback_hooks.player_panels.register(player_recap_link)
    # The transcript beside the player (transcripts/panel.py): registered here
    # so the transcripts app's own ready() stays its owners'.
    playback_hooks.player_panels.register(panel.transcript_panel)
    _transcript_hook_register()


def _transcript_hook_register() -> None:
    from transcripts import changes as transcript_hooks

    transcript_hooks.transcript_changed.register(transcript_changed)
