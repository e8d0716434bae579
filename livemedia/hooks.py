"""livemedia's registrations on the live room's hooks (classroom/hooks.py)."""

from __future__ import annotations

from classroom import hooks
from livemedia.recording import media_session_ended
from livemedia.services import media_mode_applied
from livemedia.views import media_page_config


def _mode_applied(*, session_id: int) -> None:
    media_mode_applied(session_id)


def _live_page_context(*, access) -> dict:
    return {"media_config": media_page_config(access)}


def register() -> None:
    hooks.mode_applied.register(_mode_applied)
    hooks.session_ended.register(media_session_ended)
    hooks.live_page_context.register(_live_page_context)
