"""The client-frame envelope shared by every WebSocket of the platform:
`{"type": str, "id"?: str (1-64), "data"?: object}` (docs/realtime.md)."""

from __future__ import annotations

import json
import math
import re

from core.errors import ValidationError

CLIENT_ID_MAX = 64
FRAME_MAX_BYTES = 16_000
INT_MIN, INT_MAX = -(2**63), 2**63 - 1  # what a database integer column holds

# Escapes that may decode to a character no text column can store: NUL, or
# half of a surrogate pair (a whole pair is one ordinary character).
_SUSPECT_ESCAPE = re.compile(r"\\u(?:0000|[dD][89abcdefABCDEF][0-9a-fA-F]{2})")


def _no_constants(name: str):
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999 parses to inf
        raise ValueError(f"the number {text[:20]} is out of range")
    return value


def json_strict_loads(raw: str):
    """json.loads without what is not JSON or cannot be stored as a number:
    NaN and Infinity literals, numbers that overflow a float (1e999), and
    nesting too deep for the parser (RecursionError). All are ValueError."""
    try:
        return json.loads(raw, parse_constant=_no_constants, parse_float=_finite_float)
    except RecursionError:
        raise ValueError("the JSON is nested too deeply") from None


def text_storable(value) -> bool:
    """No string in a parsed JSON value (keys included) holds NUL or an
    unpaired surrogate, which no text column can store (and which cannot be
    encoded back to UTF-8 in a response)."""
    return _storable(value)


def _storable(value) -> bool:
    """No string in the frame (keys included) holds NUL or an unpaired surrogate."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            if "\x00" in item:
                return False
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:  # an unpaired surrogate
                return False
    return True


def _utf8_size(text: str) -> int:
    """The UTF-8 size of `text`; a lone surrogate (which has none) counts as
    the three bytes it would take, and the frame is refused later anyway."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-8", "surrogatepass"))


def client_frame_parse(text_data: str | None, bytes_data: bytes | None) -> dict:
    """The parsed frame, or a ValidationError with a stable code
    (`frame_too_large`, `malformed_frame`) for an `error` frame."""
    # The limit is on the bytes that came over the wire (UTF-8), not on
    # characters: 16,000 "€" are 48,000 bytes. Counted before decoding.
    if text_data is not None:
        size = _utf8_size(text_data)
    else:
        size = len(bytes_data or b"")
    if size > FRAME_MAX_BYTES:
        raise ValidationError(
            f"The frame is too large (more than {FRAME_MAX_BYTES:,} bytes).",
            code="frame_too_large",
        )
    if text_data is not None:
        raw = text_data
    else:
        try:
            raw = (bytes_data or b"").decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationError(
                "A binary frame must hold UTF-8 JSON.", code="malformed_frame"
            ) from None
    try:
        frame = json_strict_loads(raw)
    except ValueError:
        raise ValidationError("The frame is not valid JSON.", code="malformed_frame") from None
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        raise ValidationError("A frame is an object with a string 'type'.", code="malformed_frame")
    if _SUSPECT_ESCAPE.search(raw) and not _storable(frame):
        raise ValidationError(
            "Text may not contain NUL characters or unpaired surrogates.",
            code="malformed_frame",
        )
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


def frame_int(data: dict, key: str, *, numbers: bool = False) -> int:
    """`data[key]` as an integer a database column can hold, else a
    ValidationError (`invalid`). With `numbers`, a finite float is truncated
    (positions in milliseconds may come as floats)."""
    value = data.get(key)
    kinds = (int, float) if numbers else int
    if isinstance(value, bool) or not isinstance(value, kinds):
        noun = "a number" if numbers else "an integer"
        raise ValidationError(
            f"'{key}' must be {noun}.", code="invalid", details={key: noun.split()[-1]}
        )
    if not INT_MIN <= value <= INT_MAX:  # also catches a float's inf
        raise ValidationError(
            f"'{key}' is out of range.", code="invalid", details={key: "out_of_range"}
        )
    return int(value)
