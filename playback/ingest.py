"""Turn Janus's recordings of a live session into one playable WebM.

Janus wrote one .mjr per recorded publisher stream and span
(`rec<recording>-s<span>-u<user>-<tag>-{audio,video}…mjr`, see
livemedia/recording.py). Steps, all on files of this recording only:

1. wait until Janus has closed the files (sizes stable);
2. `janus-pp-rec -j` reads each header (codec, first-packet wall time), then
   `janus-pp-rec` depacketizes it (Opus → .opus, VP8 → .webm) without re-encoding;
3. ffmpeg places every track on the recording's media timeline (RecordingSpan:
   wall time → media time, pauses cut out): the audio of everyone recorded is
   mixed (Opus re-encode, cheap); the picture is one publisher per span (the
   one covering most of it), copied as is when there is a single video segment
   and re-encoded (VP8, realtime) when spans must be joined;
4. PyAV verifies the result (streams present, duration within a second of the
   recorded spans) before the row becomes `ready`.

Any failure raises `IngestError` with a reason; the task retries, then marks
the recording `failed` with that reason. Nothing half-made is marked ready.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.db import transaction

from analytics.selectors import session_events_list
from playback.models import Recording, RecordingStatus
from playback.services.recordings import recording_ready_announce
from playback.services.timeline import recording_timeline_build_on_commit

logger = logging.getLogger(__name__)

FILE_NAME = re.compile(
    r"^rec(?P<rec>\d+)-s(?P<span>\d+)-u(?P<user>\d+)-(?P<tag>[0-9a-f]+)-(?P<kind>audio|video)"
)
SETTLE_SECONDS = 1.5
SETTLE_TIMEOUT = 20.0
DURATION_TOLERANCE_S = 1.0
MIN_SHOT_MS = 2000  # the picture holds a speaker at least this long


class IngestError(Exception):
    pass


@dataclass
class Track:
    path: Path
    span_id: int
    user_id: int
    kind: str  # audio | video
    codec: str
    first_packet: datetime
    media_start_ms: int = 0
    output: Path | None = None


def _run(args: list[str], timeout: float = 600) -> str:
    try:
        result = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)  # noqa: S603
    except FileNotFoundError as error:
        raise IngestError(f"{args[0]} is not installed") from error
    except subprocess.TimeoutExpired as error:
        raise IngestError(f"{args[0]} took longer than {timeout:.0f} s") from error
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise IngestError(f"{Path(args[0]).name} failed: {' | '.join(tail)}")
    return result.stdout


def recording_files(recording_id: int) -> list[Path]:
    folder = Path(settings.JANUS_RECORDINGS_DIR)
    return sorted(folder.glob(f"rec{recording_id}-s*-u*-*.mjr"))


def _wait_closed(recording_id: int) -> list[Path]:
    deadline = time.monotonic() + SETTLE_TIMEOUT
    previous: dict[Path, int] | None = None
    while True:
        files = recording_files(recording_id)
        sizes = {path: path.stat().st_size for path in files}
        if previous is not None and sizes == previous and files:
            return files
        if time.monotonic() > deadline:
            if files:
                # Never process a file Janus is still writing: retry later.
                raise IngestError("Janus is still writing the recording files")
            raise IngestError("Janus wrote no recording files (was anyone heard by all?)")
        previous = sizes
        time.sleep(SETTLE_SECONDS)


def _header(path: Path) -> dict | None:
    try:
        output = _run(["janus-pp-rec", "-j", str(path)], timeout=60)
    except IngestError:
        return None  # an empty file (the stream was recorded for no packet)
    try:
        return json.loads(output[output.index("{") :])
    except ValueError:
        return None


def _tracks(files: list[Path]) -> list[Track]:
    tracks = []
    for path in files:
        match = FILE_NAME.match(path.name)
        header = _header(path) if match else None
        if not match or not header or not header.get("u"):
            continue
        tracks.append(
            Track(
                path=path,
                span_id=int(match["span"]),
                user_id=int(match["user"]),
                kind=match["kind"],
                codec=str(header.get("c", "")),
                first_packet=datetime.fromtimestamp(header["u"] / 1_000_000, tz=UTC),
            )
        )
    return tracks


def _depacketize(track: Track, workdir: Path) -> None:
    suffix = ".opus" if track.kind == "audio" else ".webm"
    track.output = workdir / (track.path.stem + suffix)
    _run(["janus-pp-rec", str(track.path), str(track.output)])


def _probe_duration(path: Path) -> float:
    import av

    with av.open(str(path)) as container:
        if container.duration:
            return container.duration / 1_000_000
        return max(
            (
                float(stream.duration * stream.time_base)
                for stream in container.streams
                if stream.duration
            ),
            default=0.0,
        )


@dataclass
class Shot:
    """The picture shows `track` from media time start_ms to end_ms."""

    track: Track
    start_ms: int
    end_ms: int


def _span_ms(span) -> int:
    return int((span.ended_at - span.started_at).total_seconds() * 1000)


def picture_shots(
    tracks: list[Track], spans: list, talks: list[tuple[datetime, int]]
) -> list[Shot]:
    """Active speaker: in each span the picture starts on the first video, then
    cuts to whoever starts talking (a `spoke` event) and has a video there,
    holding every shot at least MIN_SHOT_MS."""
    shots: list[Shot] = []
    for span in spans:
        start = span.media_offset_ms
        end = start + _span_ms(span)
        videos = {t.user_id: t for t in tracks if t.kind == "video" and t.span_id == span.pk}
        if not videos:
            continue
        current = min(videos.values(), key=lambda t: (t.media_start_ms, t.user_id))
        cursor = start
        for at, user_id in sorted(talks):
            if not (span.started_at <= at < span.ended_at) or user_id not in videos:
                continue
            when = start + int((at - span.started_at).total_seconds() * 1000)
            if user_id == current.user_id or when - cursor < MIN_SHOT_MS:
                continue
            shots.append(Shot(current, cursor, when))
            current, cursor = videos[user_id], when
        shots.append(Shot(current, cursor, end))
    return shots


def _talks(recording, spans) -> list[tuple[datetime, int]]:
    """When each recorded person started talking (Janus's talk events)."""
    if recording.live_session_id is None or not spans:
        return []
    return list(
        session_events_list(
            recording.live_session_id,
            verbs=("spoke",),
            since=spans[0].started_at,
            until=spans[-1].ended_at,
            with_actor=True,
        ).values_list("occurred_at", "actor_id")
    )


def _assemble(
    tracks: list[Track], spans: list, total_ms: int, workdir: Path, talks=()
) -> tuple[Path, list[Shot]]:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise IngestError("ffmpeg is not installed (apt-get install -y ffmpeg)")
    span_by_id = {span.pk: span for span in spans}
    for track in tracks:
        span = span_by_id.get(track.span_id)
        if span is None:
            raise IngestError(f"{track.path.name} belongs to no span of this recording")
        late = max(0, int((track.first_packet - span.started_at).total_seconds() * 1000))
        track.media_start_ms = span.media_offset_ms + late
    total = total_ms / 1000
    audio = [t for t in tracks if t.kind == "audio"]
    shots = picture_shots(tracks, spans, list(talks))
    inputs: list[str] = []
    filters: list[str] = []
    index = 0
    audio_labels = []
    for track in audio:
        inputs += ["-i", str(track.output)]
        filters.append(f"[{index}:a]aresample=48000,adelay={track.media_start_ms}:all=1[a{index}]")
        audio_labels.append(f"[a{index}]")
        index += 1
    if audio_labels:
        filters.append(
            "".join(audio_labels)
            + f"amix=inputs={len(audio_labels)}:duration=longest:normalize=0,"
            + f"apad=whole_dur={total:.3f},atrim=0:{total:.3f}[aout]"
        )
    else:
        filters.append(f"anullsrc=r=48000:cl=stereo,atrim=0:{total:.3f}[aout]")
    maps = ["-map", "[aout]"]
    video_args: list[str] = []
    distinct = list({id(shot.track): shot.track for shot in shots}.values())
    if len(distinct) == 1 and len(spans) == 1:
        # One picture all along: copy the publisher's VP8 as is, shifted onto the timeline.
        track = distinct[0]
        offset = f"{track.media_start_ms / 1000:.3f}"
        inputs = ["-itsoffset", offset, "-i", str(track.output), *inputs]
        filters = [re.sub(r"\[(\d+):a\]", lambda m: f"[{int(m[1]) + 1}:a]", f) for f in filters]
        maps = ["-map", "0:v", "-map", "[aout]"]
        video_args = ["-c:v", "copy"]
    elif shots:
        # Cuts between people (or spans to join): re-encode VP8 at realtime speed.
        width, height = _size(distinct[0].output)
        filters.append(f"color=c=black:s={width}x{height}:r=15:d={total:.3f}[base]")
        labels: dict[int, list[str]] = {}
        for track in distinct:
            uses = [shot for shot in shots if shot.track is track]
            inputs += ["-i", str(track.output)]
            names = [f"[t{index}s{n}]" for n in range(len(uses))]
            shift = f"{track.media_start_ms / 1000:.3f}"
            chain = f"[{index}:v]scale={width}:{height},setpts=PTS-STARTPTS+{shift}/TB"
            chain += f",split={len(names)}{''.join(names)}" if len(names) > 1 else names[0]
            filters.append(chain)
            labels[id(track)] = names
            index += 1
        current = "[base]"
        for number, shot in enumerate(shots):
            source = labels[id(shot.track)].pop(0)
            enable = f"between(t,{shot.start_ms / 1000:.3f},{shot.end_ms / 1000:.3f})"
            filters.append(f"{current}{source}overlay=eof_action=pass:enable='{enable}'[o{number}]")
            current = f"[o{number}]"
        filters.append(f"{current}format=yuv420p[vout]")
        maps = ["-map", "[vout]", "-map", "[aout]"]
        video_args = ["-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "800k"]
    output = workdir / "recording.webm"
    _run(
        [ffmpeg, "-hide_banner", "-loglevel", "error", "-y", *inputs,
         "-filter_complex", ";".join(filters), *maps, *video_args,
         "-c:a", "libopus", "-b:a", "64k", "-t", f"{total:.3f}", str(output)]
    )  # fmt: skip
    return output, shots


def _size(path: Path) -> tuple[int, int]:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return stream.codec_context.width or 640, stream.codec_context.height or 480


def verify(path: Path, *, expect_video: bool, total_ms: int) -> dict:
    """What the file holds, or IngestError if it is not what was recorded."""
    import av

    try:
        container = av.open(str(path))
    except av.FFmpegError as error:
        raise IngestError(f"the result does not open: {error}") from error
    with container:
        audio = container.streams.audio[0] if container.streams.audio else None
        video = container.streams.video[0] if container.streams.video else None
        if audio is None:
            raise IngestError("the result has no audio stream")
        if expect_video and video is None:
            raise IngestError("the result has no video stream")
        packets = {"audio": 0, "video": 0}
        for packet in container.demux():
            if packet.size:
                packets[packet.stream.type] = packets.get(packet.stream.type, 0) + 1
        if expect_video and not packets["video"]:
            raise IngestError("the video stream is empty")
        if not packets["audio"]:
            raise IngestError("the audio stream is empty")
        info = {
            "audio_codec": audio.codec_context.name,
            "video_codec": video.codec_context.name if video else "",
            "width": video.codec_context.width if video else None,
            "height": video.codec_context.height if video else None,
        }
    duration = _probe_duration(path)
    if abs(duration * 1000 - total_ms) > DURATION_TOLERANCE_S * 1000:
        raise IngestError(
            f"the result lasts {duration:.2f} s but {total_ms / 1000:.2f} s were recorded"
        )
    info["duration_ms"] = int(round(duration * 1000))
    return info


def recording_ingest_run(recording_id: int) -> str:
    """Process one stopped recording. Idempotent: a ready recording is left alone."""
    recording = Recording.objects.filter(pk=recording_id).first()
    if recording is None or recording.status == RecordingStatus.READY:
        return "skipped"
    spans = list(recording.spans.order_by("started_at", "id"))
    if not spans or any(span.ended_at is None for span in spans):
        raise IngestError("the recording has not been stopped")
    total_ms = sum(int((s.ended_at - s.started_at).total_seconds() * 1000) for s in spans)
    files = _wait_closed(recording_id)
    with tempfile.TemporaryDirectory(prefix=f"rec{recording_id}-") as folder:
        workdir = Path(folder)
        tracks = _tracks(files)
        if not tracks:
            raise IngestError("no recording file holds any media")
        for track in tracks:
            _depacketize(track, workdir)
        output, shots = _assemble(tracks, spans, total_ms, workdir, _talks(recording, spans))
        info = verify(
            output, expect_video=any(t.kind == "video" for t in tracks), total_ms=total_ms
        )
        with transaction.atomic():
            recording = Recording.objects.select_for_update().get(pk=recording_id)
            if recording.status == RecordingStatus.READY:
                return "skipped"
            with open(output, "rb") as handle:
                recording.file.save(f"recording-{recording_id}.webm", File(handle), save=False)
            recording.mime_type = "video/webm" if info["video_codec"] else "audio/webm"
            recording.size_bytes = output.stat().st_size
            recording.duration_ms = info["duration_ms"]
            recording.audio_codec = info["audio_codec"]
            recording.video_codec = info["video_codec"]
            recording.width = info["width"]
            recording.height = info["height"]
            recording.failure_reason = ""
            # Who is on screen when (playback can show the speaker's name).
            recording.settings = {
                **(recording.settings or {}),
                "picture": [
                    {
                        "user_id": shot.track.user_id,
                        "start_ms": shot.start_ms,
                        "end_ms": shot.end_ms,
                    }
                    for shot in shots
                ],
            }
            recording.status = RecordingStatus.READY
            recording.save()
            # A live recording's timeline comes from the session's stored events.
            recording_timeline_build_on_commit(recording.pk)
            recording_ready_announce(recording.pk)
    return "ready"


def recording_ingest_failed(recording_id: int, reason: str, *, final: bool) -> None:
    """Keep the reason; `failed` only once retries are exhausted."""
    from django.db.models import F

    updates = {"failure_reason": reason[:2000], "attempts": F("attempts") + 1}
    if final:
        updates["status"] = RecordingStatus.FAILED
    Recording.objects.filter(pk=recording_id).exclude(status=RecordingStatus.READY).update(
        **updates
    )
