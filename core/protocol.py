"""The client-frame envelope shared by every WebSocket of the platform:
`{"type": str, "id"?: str (1-64), "data"?: object}` (docs/realtime.md)."""

from __future__ import annotations

import json

from core.errors import ValidationError

CLIENT_ID_MAX = 64
FRAME_MAX_BYTES = 16_000


def client_frame_parse(text_data: str | None, bytes_data: bytes | None) -> dict:
    """The parsed frame, or a ValidationError with a stable code
    (`frame_too_large`, `malformed_frame`) for an `error` frame."""
    raw = text_data if text_data is not None else (bytes_data or b"").decode("utf-8", "replace")
    if len(raw) > FRAME_MAX_BYTES:
        raise ValidationError("The frame is too large.", code="frame_too_large")
    try:
        frame = json.loads(raw)
    except ValueError:
        raise ValidationError("The frame is not valid JSON.", code="malformed_frame") from None
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        raise ValidationError("A frame is an object with a string 'type'.", code="malformed_frame")
    client_id = frame.get("id")
    if client_id is not None and (
        not isinstance(client_id, str) or not 0 < len(client_id) <= CLIENT_ID_MAX
    ):
        raise ValidationError(
            "'id' must be a string of 1 to 64 characters.", code="malformed_frame"
        )
    if frame.get("data") is not None and not isinstance(frame["data"], dict):
        raise ValidationError("'data' must be an object.", code="malformed_frame")
    return frame
