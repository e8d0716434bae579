"""Reading media files with PyAV: what an upload really is (not what its name
says), and small synthetic recordings for the demo data and the tests.

Only formats Chromium and Firefox play without plug-ins are accepted:
MP4/M4A (H.264, VP9 or AV1 video; AAC, MP3 or Opus audio), WebM (VP8, VP9 or
AV1; Opus or Vorbis) and MP3."""

from __future__ import annotations

import array
import functools
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from django.utils.translation import gettext as _

from core.errors import ValidationError

MP4_FORMAT = "mov,mp4,m4a,3gp,3g2,mj2"
WEBM_FORMAT = "matroska,webm"
MP3_FORMAT = "mp3"
MP4_VIDEO = {"h264", "vp9", "av1"}
MP4_AUDIO = {"aac", "mp3", "opus"}
WEBM_VIDEO = {"vp8", "vp9", "av1"}
WEBM_AUDIO = {"opus", "vorbis"}
# Cover art in an MP3 or M4A is a one-picture "video" stream; it is not video.
STILL_IMAGE_CODECS = {"mjpeg", "png", "bmp", "gif"}
PACKETS_TO_CHECK = 48


@dataclass(frozen=True)
class MediaInfo:
    mime_type: str
    extension: str
    duration_ms: int
    video_codec: str = ""
    audio_codec: str = ""
    width: int | None = None
    height: int | None = None

    @property
    def has_video(self) -> bool:
        return bool(self.video_codec)


COMPLETE_SHARE = 0.9  # of the announced length that must be present
COMPLETE_SLACK_MS = 1000


def _invalid(message: str, code: str = "invalid_media") -> ValidationError:
    return ValidationError(message, code=code, details={"file": message})


def media_probe(source: str | Path | IO[bytes]) -> MediaInfo:
    """Open the file with PyAV, check its container and codecs, decode a few
    packets, and describe it. Raises ValidationError (`invalid_media`: not a
    readable media file; `unsupported_media`: readable but not playable in
    browsers) — never anything else for a bad file."""
    import av

    try:
        container = av.open(str(source) if isinstance(source, str | Path) else source, "r")
    except (av.FFmpegError, OSError, ValueError, UnicodeDecodeError):
        raise _invalid(_("This file is not a video or audio file we can read.")) from None
    try:
        return _describe(container)
    except (av.FFmpegError, OSError, ValueError):
        raise _invalid(_("This file is damaged: its audio or video cannot be decoded.")) from None
    finally:
        container.close()


def _describe(container) -> MediaInfo:
    format_name = container.format.name
    video = next(
        (s for s in container.streams.video if _codec(s) not in STILL_IMAGE_CODECS),
        None,
    )
    audio = next(iter(container.streams.audio), None)
    if video is None and audio is None:
        raise _invalid(_("This file has neither audio nor video."))
    video_codec = _codec(video) if video is not None else ""
    audio_codec = _codec(audio) if audio is not None else ""
    if format_name == MP4_FORMAT:
        allowed_video, allowed_audio = MP4_VIDEO, MP4_AUDIO
        mime, extension = ("video/mp4", "mp4") if video is not None else ("audio/mp4", "m4a")
    elif format_name == WEBM_FORMAT:
        allowed_video, allowed_audio = WEBM_VIDEO, WEBM_AUDIO
        mime, extension = ("video/webm", "webm") if video is not None else ("audio/webm", "webm")
    elif format_name == MP3_FORMAT:
        allowed_video, allowed_audio = set(), {"mp3"}
        video, video_codec = None, ""
        mime, extension = "audio/mpeg", "mp3"
    else:
        raise _invalid(
            _("Upload an MP4, WebM, MP3 or M4A file (this one is %(format)s).")
            % {"format": format_name},
            "unsupported_media",
        )
    if video is not None and video_codec not in allowed_video:
        raise _invalid(
            _("Browsers cannot play %(codec)s video in this file type.") % {"codec": video_codec},
            "unsupported_media",
        )
    if audio is not None and audio_codec not in allowed_audio:
        raise _invalid(
            _("Browsers cannot play %(codec)s audio in this file type.") % {"codec": audio_codec},
            "unsupported_media",
        )
    duration_ms = _duration_ms(container, video, audio)
    if duration_ms <= 0:
        raise _invalid(_("This file has no playable length."))
    _decode_some(container, video, audio)
    _require_complete(container, video or audio, duration_ms)
    return MediaInfo(
        mime_type=mime,
        extension=extension,
        duration_ms=duration_ms,
        video_codec=video_codec,
        audio_codec=audio_codec,
        width=video.codec_context.width if video is not None else None,
        height=video.codec_context.height if video is not None else None,
    )


def _codec(stream) -> str:
    """The codec's canonical name (`mp3`, not the decoder's `mp3float`)."""
    return stream.codec_context.codec.canonical_name


def _duration_ms(container, video, audio) -> int:
    if container.duration:
        return int(container.duration / 1000)  # AV_TIME_BASE is microseconds
    longest = 0.0
    for stream in (video, audio):
        if stream is not None and stream.duration and stream.time_base:
            longest = max(longest, float(stream.duration * stream.time_base))
    return int(longest * 1000)


def _decode_some(container, video, audio) -> None:
    """Decode the first packets: a renamed text file or a truncated header
    fails here, not in a learner's browser."""
    streams = [s for s in (video, audio) if s is not None]
    decoded = {stream.index: False for stream in streams}
    for count, packet in enumerate(container.demux(*streams)):
        if packet.size and not decoded[packet.stream.index]:
            if packet.decode():
                decoded[packet.stream.index] = True
        if all(decoded.values()) or count >= PACKETS_TO_CHECK:
            break
    if not any(decoded.values()):
        raise _invalid(_("This file is damaged: its audio or video cannot be decoded."))


def _require_complete(container, stream, duration_ms: int) -> None:
    """Read (without decoding) every packet of the main stream: a file cut
    short, e.g. an upload interrupted halfway, still announces its whole
    length in its header, and would play only its first part. Demuxing
    costs about a second per hour of media."""
    container.seek(0)
    start = float(stream.start_time * stream.time_base) if stream.start_time else 0.0
    held = 0.0
    for packet in container.demux(stream):
        if packet.pts is None or packet.time_base is None:
            continue
        end = float((packet.pts + (packet.duration or 0)) * packet.time_base) - start
        held = max(held, end)
    held_ms = int(held * 1000)
    if held_ms < duration_ms * COMPLETE_SHARE - COMPLETE_SLACK_MS:
        raise _invalid(
            _(
                "This file is cut short: it announces %(announced)s but holds %(held)s. "
                "Upload it again."
            )
            % {"announced": _clock(duration_ms), "held": _clock(held_ms)}
        )


def _clock(ms: int) -> str:
    seconds = ms // 1000
    return f"{seconds // 60}:{seconds % 60:02d}"


# --- Synthetic media (demo data and tests; nothing is downloaded) -----------------------

BARS = [
    (235, 235, 235),
    (235, 235, 16),
    (16, 235, 235),
    (16, 235, 16),
    (235, 16, 235),
    (235, 16, 16),
    (16, 16, 235),
]


def _pattern_frame(width: int, height: int, index: int, fps: int, total: int) -> bytes:
    """Colour bars, a box that sweeps once per second and a progress bar:
    two frames a few hundred ms apart look different in a screenshot."""
    row_bars = bytearray()
    for x in range(width):
        row_bars += bytes(BARS[x * len(BARS) // width])
    seconds = index / fps
    box = int((seconds % 1.0) * (width - 24))
    row_box = bytearray(row_bars)
    row_box[box * 3 : (box + 24) * 3] = b"\x10\x10\x10" * 24
    done = int(width * index / max(1, total - 1))
    row_progress = b"\xff\x8c\x00" * done + b"\x30\x30\x30" * (width - done)
    band = height * 2 // 3
    rows = [row_box] * (band - 24) + [row_bars] * 24 + [row_progress] * (height - band)
    return b"".join(bytes(row) for row in rows)


@functools.lru_cache(maxsize=8)
def _tone_block(pitch: int, rate: int, seconds_per_pitch: int) -> bytes:
    """One pitch's whole step (s16 mono). Each step starts at a whole number of
    periods (pitch × seconds is whole), so every step of a pitch is the same."""
    samples = array.array(
        "h",
        (
            int(6000 * math.sin(2 * math.pi * pitch * n / rate))
            for n in range(rate * seconds_per_pitch)
        ),
    )
    if sys.byteorder != "little":
        samples.byteswap()
    return samples.tobytes()


def _tone(samples: int, start: int, rate: int, seconds_per_pitch: int = 2) -> bytes:
    """A quiet sine whose pitch steps every few seconds (s16 mono), cut from
    the cached steps (computing it sample by sample took minutes for the demo's
    recording on a loaded machine)."""
    step = rate * seconds_per_pitch
    out = bytearray()
    n, end = start, start + samples
    while n < end:
        index, offset = divmod(n, step)
        take = min(end - n, step - offset)
        block = _tone_block(330 + 110 * (index % 4), rate, seconds_per_pitch)
        out += block[offset * 2 : (offset + take) * 2]
        n += take
    return bytes(out)


def synthetic_media_write(
    path: str | Path,
    *,
    seconds: float = 4.0,
    kind: str = "webm",
    width: int = 320,
    height: int = 180,
    fps: int = 15,
) -> Path:
    """Write a short test recording: `webm` (VP8 + Opus), `mp4` (H.264 + AAC),
    `m4a` (AAC only) or `mp3`. Keyframes every second, so seeking is exact
    enough for sync tests."""
    import av

    path = Path(path)
    video_codec, audio_codec, container_format = {
        "webm": ("libvpx", "libopus", "webm"),
        "mp4": ("libx264", "aac", "mp4"),
        "m4a": (None, "aac", "ipod"),
        "mp3": (None, "libmp3lame", "mp3"),
    }[kind]
    sample_rate = 48000
    container = av.open(str(path), "w", format=container_format)
    try:
        video = None
        if video_codec:
            video = container.add_stream(video_codec, rate=fps)
            video.width, video.height, video.pix_fmt = width, height, "yuv420p"
            video.gop_size = fps
            if video_codec == "libx264":
                video.options = {"preset": "ultrafast", "tune": "zerolatency"}
            else:
                video.options = {"deadline": "realtime", "cpu-used": "8", "b": "300k"}
        audio = container.add_stream(audio_codec, rate=sample_rate)
        audio.layout = "mono"
        total_frames = int(seconds * fps)
        if video is not None:
            for index in range(total_frames):
                frame = av.VideoFrame(width, height, "rgb24")
                _fill(frame, _pattern_frame(width, height, index, fps, total_frames), width * 3)
                frame.pts = index
                for packet in video.encode(frame):
                    container.mux(packet)
            for packet in video.encode(None):
                container.mux(packet)
        chunk = 960
        total_samples = int(seconds * sample_rate)
        for start in range(0, total_samples, chunk):
            samples = min(chunk, total_samples - start)
            frame = av.AudioFrame(format="s16", layout="mono", samples=samples)
            frame.planes[0].update(
                _tone(samples, start, sample_rate).ljust(frame.planes[0].buffer_size, b"\0")
            )
            frame.sample_rate = sample_rate
            frame.pts = start
            for packet in audio.encode(frame):
                container.mux(packet)
        for packet in audio.encode(None):
            container.mux(packet)
    finally:
        container.close()
    return path


def _fill(frame, data: bytes, row_bytes: int) -> None:
    plane = frame.planes[0]
    if plane.line_size == row_bytes:
        plane.update(data)
        return
    padding = b"\0" * (plane.line_size - row_bytes)
    rows = [data[i : i + row_bytes] + padding for i in range(0, len(data), row_bytes)]
    plane.update(b"".join(rows))
