"""tools/check_boundaries.py: private names across modules and frames
published outside */events.py are caught (and the project has none)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _checker():
    spec = importlib.util.spec_from_file_location(
        "check_boundaries", ROOT / "tools" / "check_boundaries.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_the_project_keeps_its_boundaries():
    assert _checker().check(ROOT) == []


def test_a_private_name_imported_across_modules_is_reported(tmp_path):
    checker = _checker()
    checker.ALLOWED = {}
    root = _tree(
        tmp_path,
        {
            "playback/__init__.py": "",
            "playback/answers.py": (
                "from classroom.polls import _response_text\n"
                "from classroom import polls\n"
                "x = polls._grade\n"
                "ok = polls.__name__\n"
            ),
            "classroom/__init__.py": "",
            "classroom/polls.py": "def _response_text(): ...\ndef _grade(): ...\n",
        },
    )
    errors = checker.check(root)
    assert len(errors) == 2
    assert "playback/answers.py:1" in errors[0] and "classroom.polls._response_text" in errors[0]
    assert "playback/answers.py:3" in errors[1] and "classroom.polls._grade" in errors[1]


def test_publishing_a_frame_outside_events_modules_is_reported(tmp_path):
    checker = _checker()
    checker.ALLOWED = {}
    root = _tree(
        tmp_path,
        {
            "classroom/__init__.py": "",
            "classroom/services.py": (
                "from core import realtime\n"
                "from core.fanout import publish\n"
                "from core import fanout\n"
                "realtime.forward_on_commit(['g'], 't')\n"
                "publish('g', 'text')\n"
                "fanout.hub().publish('g')\n"
                "realtime.group_join(None, [], 'c')\n"
            ),
            "classroom/events.py": "from core import realtime\nrealtime.forward_on_commit(['g'], 't')\n",
        },
    )
    errors = checker.check(root)
    assert [error.split(":")[1] for error in errors] == ["4", "5", "6"]
    assert all("classroom/services.py" in error for error in errors)


def test_a_stale_exception_is_reported(tmp_path):
    checker = _checker()
    checker.ALLOWED = {("publish", "classroom.consumers", "forward_now"): "gone"}
    root = _tree(tmp_path, {"classroom/__init__.py": ""})
    assert checker.check(root) == [
        "tools/check_boundaries.py: stale exception ('publish', 'classroom.consumers', "
        "'forward_now'): remove it from ALLOWED"
    ]
