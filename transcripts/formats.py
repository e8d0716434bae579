"""Caption files: a strict reader for WebVTT and SubRip (SRT), and writers for
WebVTT, SRT and plain text.

The reader accepts what the two formats allow (a BOM, CRLF line ends, cue
identifiers, WebVTT cue settings, NOTE/STYLE/REGION blocks, SRT's comma
decimal mark, `<v Speaker>` voice spans) and refuses anything else with the
line number of the first problem (`CaptionFormatError`)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.utils.translation import gettext as _

MAX_CUES = 20_000
MAX_CUE_CHARS = 2_000

_VTT_TIME = r"(?:(\d{1,3}):)?([0-5]\d):([0-5]\d)\.(\d{3})"
_SRT_TIME = r"(\d{1,3}):([0-5]\d):([0-5]\d)[,.](\d{3})"
VTT_TIMING = re.compile(rf"^{_VTT_TIME}[ \t]+-->[ \t]+{_VTT_TIME}(?:[ \t]+(.*))?$")
SRT_TIMING = re.compile(rf"^{_SRT_TIME}[ \t]+-->[ \t]+{_SRT_TIME}(?:[ \t]+.*)?$")
VOICE = re.compile(r"^<v(?:\.[\w.-]+)?[ \t]+([^>]+)>")
TAG = re.compile(r"</?[a-z][^>]*>", re.IGNORECASE)


class CaptionFormatError(ValueError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message


@dataclass(frozen=True)
class ParsedCue:
    start_ms: int
    end_ms: int
    text: str
    speaker: str = ""
    line: int = 0  # of its timing line in the file


def _ms(hours: str | None, minutes: str, seconds: str, millis: str) -> int:
    return ((int(hours or 0) * 60 + int(minutes)) * 60 + int(seconds)) * 1000 + int(millis)


def _lines(data: bytes) -> list[str]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise CaptionFormatError(line, _("the file is not UTF-8 text")) from error
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\x00" in text:
        raise CaptionFormatError(text[: text.index("\x00")].count("\n") + 1, _("NUL character"))
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _clean_text(lines: list[str]) -> tuple[str, str]:
    """Cue text without markup, and the speaker of a leading `<v Name>`."""
    speaker = ""
    first = lines[0] if lines else ""
    voice = VOICE.match(first)
    if voice:
        speaker = voice.group(1).strip()[:150]
    text = " ".join(TAG.sub("", line).strip() for line in lines)
    text = " ".join(text.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">").split())
    return text, speaker


def _check(start: int, end: int, line: int) -> None:
    if end <= start:
        raise CaptionFormatError(line, _("the cue ends before it starts"))


def parse_vtt(data: bytes) -> list[ParsedCue]:
    lines = _lines(data)
    header = lines[0] if lines else ""
    if not (header == "WEBVTT" or header.startswith(("WEBVTT ", "WEBVTT\t"))):
        raise CaptionFormatError(1, _('a WebVTT file starts with the line "WEBVTT"'))
    cues: list[ParsedCue] = []
    number = 1
    count = len(lines)
    # Skip the header block.
    while number < count and lines[number].strip():
        number += 1
    while number < count:
        if not lines[number].strip():
            number += 1
            continue
        block_start = number
        block = []
        while number < count and lines[number].strip():
            block.append(lines[number])
            number += 1
        head = block[0]
        if head.startswith(("NOTE", "STYLE", "REGION")) and "-->" not in head:
            if head.split()[0] in ("NOTE", "STYLE", "REGION"):
                continue
        timing_at = 0
        if "-->" not in head:
            timing_at = 1  # a cue identifier first
            if len(block) < 2 or "-->" not in block[1]:
                raise CaptionFormatError(
                    block_start + 1, _('expected a cue timing like "00:00:01.000 --> 00:00:04.000"')
                )
        match = VTT_TIMING.match(block[timing_at].strip())
        line_no = block_start + timing_at + 1
        if not match:
            raise CaptionFormatError(
                line_no, _('bad cue timing (expected "00:00:01.000 --> 00:00:04.000")')
            )
        groups = match.groups()
        start, end = _ms(*groups[0:4]), _ms(*groups[4:8])
        _check(start, end, line_no)
        body = block[timing_at + 1 :]
        if any("-->" in text for text in body):
            raise CaptionFormatError(
                line_no + 1 + next(i for i, t in enumerate(body) if "-->" in t),
                _('a cue\'s text cannot contain "-->" (is a blank line missing?)'),
            )
        text, speaker = _clean_text(body)
        _append(cues, ParsedCue(start, end, text, speaker, line_no), line_no)
    return _finish(cues)


def parse_srt(data: bytes) -> list[ParsedCue]:
    lines = _lines(data)
    cues: list[ParsedCue] = []
    number = 0
    count = len(lines)
    while number < count:
        if not lines[number].strip():
            number += 1
            continue
        block_start = number
        block = []
        while number < count and lines[number].strip():
            block.append(lines[number].strip() if not block else lines[number])
            number += 1
        if not block[0].strip().isdigit():
            raise CaptionFormatError(block_start + 1, _("expected the cue's number"))
        if len(block) < 2:
            raise CaptionFormatError(block_start + 2, _("expected a cue timing after its number"))
        match = SRT_TIMING.match(block[1].strip())
        if not match:
            raise CaptionFormatError(
                block_start + 2, _('bad cue timing (expected "00:00:01,000 --> 00:00:04,000")')
            )
        groups = match.groups()
        start, end = _ms(*groups[0:4]), _ms(*groups[4:8])
        _check(start, end, block_start + 2)
        text, speaker = _clean_text(block[2:])
        _append(cues, ParsedCue(start, end, text, speaker, block_start + 2), block_start + 2)
    return _finish(cues)


def _append(cues: list[ParsedCue], cue: ParsedCue, line: int) -> None:
    if len(cues) >= MAX_CUES:
        raise CaptionFormatError(line, _("too many cues (at most %(n)d)") % {"n": MAX_CUES})
    if len(cue.text) > MAX_CUE_CHARS:
        raise CaptionFormatError(line, _("a cue's text is too long"))
    if cue.text:
        cues.append(cue)


def _finish(cues: list[ParsedCue]) -> list[ParsedCue]:
    if not cues:
        raise CaptionFormatError(1, _("the file holds no cues"))
    return sorted(cues, key=lambda cue: (cue.start_ms, cue.end_ms))


def parse_captions(data: bytes, filename: str = "") -> list[ParsedCue]:
    """WebVTT when the file says so (its first line), else SRT."""
    head = data[:16].lstrip(b"\xef\xbb\xbf")
    if head.startswith(b"WEBVTT") or filename.lower().endswith(".vtt"):
        return parse_vtt(data)
    return parse_srt(data)


# --- Writers --------------------------------------------------------------------------


def _stamp(ms: int, sep: str) -> str:
    ms = max(0, int(ms))
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{sep}{millis:03d}"


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def write_vtt(cues, *, speakers: bool = True) -> str:
    out = ["WEBVTT", ""]
    for number, cue in enumerate(cues, start=1):
        text = _vtt_escape(cue.text).replace("-->", "--&gt;")
        if speakers and cue.speaker:
            text = f"<v {_vtt_escape(cue.speaker)}>{text}"
        out += [str(number), f"{_stamp(cue.start_ms, '.')} --> {_stamp(cue.end_ms, '.')}", text, ""]
    return "\n".join(out)


def write_srt(cues) -> str:
    out = []
    for number, cue in enumerate(cues, start=1):
        text = cue.text.replace("-->", "->")
        if cue.speaker:
            text = f"{cue.speaker}: {text}"
        out += [str(number), f"{_stamp(cue.start_ms, ',')} --> {_stamp(cue.end_ms, ',')}", text, ""]
    return "\n".join(out)


def write_text(cues) -> str:
    """Paragraphs by speaker; each starts with its time."""
    out: list[str] = []
    speaker = None
    for cue in cues:
        if not out or cue.speaker != speaker:
            speaker = cue.speaker
            stamp = _stamp(cue.start_ms, ".")[:-4]
            label = f"{speaker}: " if speaker else ""
            out.append(f"[{stamp}] {label}{cue.text}")
        else:
            out[-1] += " " + cue.text
    return "\n\n".join(out) + ("\n" if out else "")
