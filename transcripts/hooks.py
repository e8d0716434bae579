"""transcripts' registrations on playback's hooks (playback/hooks.py):
queue the ASR job when a recording becomes ready, give the player its
<track> of captions, and show the captions panel on a recording's page."""

from __future__ import annotations

from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _

from playback import hooks
from transcripts.selectors import transcript_panel_context
from transcripts.services.jobs import recording_ready_transcribe


def player_captions(*, recording, user) -> list[dict]:
    from transcripts.models import Cue

    has_cues = Cue.objects.filter(
        transcript__recording_id=recording.pk, transcript__status="ready"
    ).exists()
    if not has_cues:
        return []
    language = getattr(getattr(recording, "transcript", None), "language", "") or "en"
    return [
        {
            "kind": "captions",
            "src": reverse("transcripts:captions-vtt", args=[recording.pk]),
            "srclang": language,
            "label": _("Captions"),
            "default": bool(getattr(user, "captions_on", False)),
        }
    ]


def recording_panel(*, request, access) -> str:
    context = transcript_panel_context(access=access, user=request.user)
    return render_to_string("transcripts/panel.html", context, request=request)


def register() -> None:
    hooks.recording_ready.register(recording_ready_transcribe)
    hooks.player_captions.register(player_captions)
    hooks.recording_panels.register(recording_panel)
