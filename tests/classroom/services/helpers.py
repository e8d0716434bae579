"""Reading back the frames a live service emitted (the resync buffer)."""

from __future__ import annotations

import json

from classroom.models import LiveSession
from core import realtime


def frames(session, after: int = 0) -> list[dict]:
    return [
        json.loads(text)
        for _seq, _stream, text in realtime.frame_buffer().since(f"live.{session.pk}", after)
    ]


def head(session) -> int:
    return LiveSession.objects.get(pk=session.pk).seq
