"""Write a benchmark's results into docs/performance.md.

Each benchmark owns one section of that file, delimited by
`<!-- bench:NAME:start -->` and `<!-- bench:NAME:end -->`. Writing a section
replaces only what lies between its markers; a missing file or section is
created (the section is appended at the end).
"""

from __future__ import annotations

import os
import platform
import re
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "performance.md"
DOC_TITLE = "# Performance\n"


def _markers(name: str) -> tuple[str, str]:
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise ValueError(f"bad benchmark name {name!r}")
    return f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"


def machine_info() -> dict[str, str]:
    """What the numbers were measured on."""
    return {
        "CPUs": str(os.cpu_count() or "?"),
        "Python": platform.python_version(),
        "Platform": platform.platform(terse=True),
        "Date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    lines = [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
    ]
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f"row {row!r} does not match headers {headers!r}")
        lines.append("| " + " | ".join(str(cell) for cell in row) + " |")
    return "\n".join(lines)


def render(
    title: str,
    headers: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    info: dict[str, str] | None = None,
    notes: Iterable[str] = (),
) -> str:
    """A section body: heading, machine info (plus `info`), results table, notes."""
    details = {**machine_info(), **(info or {})}
    parts = [
        f"## {title}",
        "\n".join(f"- {key}: {value}" for key, value in details.items()),
        markdown_table(headers, rows),
    ]
    notes = [note.strip() for note in notes if note.strip()]
    if notes:
        parts.append("\n".join(notes))
    return "\n\n".join(parts)


def write_section(name: str, body: str, path: Path = DOC) -> Path:
    """Replace (or append) the section `name` of `path` with `body`."""
    start, end = _markers(name)
    block = f"{start}\n{body.strip()}\n{end}"
    text = path.read_text(encoding="utf-8") if path.exists() else DOC_TITLE
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _match: block, text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def publish(name: str, body: str, path: Path = DOC) -> None:
    """Print the section and write it into the performance document."""
    print(body)
    written = write_section(name, body, path)
    print(f"\n[{name}] written to {written}", file=sys.stderr)
