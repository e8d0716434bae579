"""Speech test media: espeak-ng reads a known text into a WAV file, PyAV
encodes it as WebM/Opus (a format playback accepts). Nothing is downloaded."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import av


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def speech_wav(text: str, path: Path, *, words_per_minute: int = 150) -> Path:
    subprocess.run(
        ["espeak-ng", "-v", "en-us", "-s", str(words_per_minute), "-w", str(path), text],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return path


def speech_webm(text: str, path: Path, *, words_per_minute: int = 150) -> Path:
    """`text` spoken, as an audio-only WebM (Opus, 48 kHz mono)."""
    wav = speech_wav(text, path.with_suffix(".wav"), words_per_minute=words_per_minute)
    with av.open(str(wav)) as source, av.open(str(path), "w", format="webm") as target:
        stream = target.add_stream("libopus", rate=48_000)
        stream.layout = "mono"
        resampler = av.AudioResampler(format="s16", layout="mono", rate=48_000)
        for frame in source.decode(audio=0):
            for out in resampler.resample(frame):
                for packet in stream.encode(out):
                    target.mux(packet)
        for out in resampler.resample(None):
            for packet in stream.encode(out):
                target.mux(packet)
        for packet in stream.encode(None):
            target.mux(packet)
    wav.unlink()
    return path
