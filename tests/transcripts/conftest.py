from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import require
from tests.transcripts.speech import espeak_available, speech_webm

# A short "lecture" with words the tiny model knows well, and one course word.
SPOKEN = (
    "Good morning everyone. Today we talk about photosynthesis. "
    "Plants turn light energy into chemical energy. "
    "The green pigment chlorophyll absorbs sunlight."
)
KNOWN_WORDS = ("morning", "photosynthesis", "plants", "light", "energy", "chemical", "sunlight")


class _Speech(dict):
    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder

    def __missing__(self, text: str) -> Path:
        path = speech_webm(text, self.folder / f"speech-{len(self)}.webm")
        self[text] = path
        return path


@pytest.fixture(scope="session")
def speech_files(tmp_path_factory):
    require(espeak_available(), "espeak-ng is not installed (apt install espeak-ng)")
    return _Speech(tmp_path_factory.mktemp("speech"))


# The same media root and ended session as the playback tests (one definition).
from tests.playback.conftest import ended_session, media_root  # noqa: E402, F401, F811


@pytest.fixture
def speech_recording(course, ended_session, speech_files, instructor):  # noqa: F811
    """A ready recording of SPOKEN (audio-only WebM) made the way playback
    stores server-side media."""
    from playback.services.recordings import recording_from_path

    return recording_from_path(
        course=course,
        path=speech_files[SPOKEN],
        title="Photosynthesis lecture",
        live_session=ended_session,
        recorded_from=ended_session.started_at,
        actor=instructor,
    )


def asr_required() -> None:
    from transcripts.asr import asr_status

    status = asr_status()
    require(status.enabled, f"speech recognition unavailable: {status.reason}")
