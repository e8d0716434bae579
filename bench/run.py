"""Run every benchmark in bench/ and fail if any fails.

A benchmark is any `bench/*.py` except this file and `_*.py` helpers. Each runs
in its own process with the project's virtualenv Python, from the repository
root, one after the other (they measure the machine: never in parallel).

    .venv/bin/python bench/run.py              # all of them (`make bench`)
    .venv/bin/python bench/run.py event_log    # only the named ones
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent


def venv_python() -> str:
    candidate = ROOT / ".venv" / "bin" / "python"
    return str(candidate) if candidate.exists() else sys.executable


def discover() -> list[Path]:
    return sorted(
        path
        for path in BENCH.glob("*.py")
        if path.name != Path(__file__).name and not path.name.startswith("_")
    )


def main(argv: list[str]) -> int:
    benchmarks = discover()
    if argv:
        wanted = {name.removesuffix(".py") for name in argv}
        unknown = wanted - {path.stem for path in benchmarks}
        if unknown:
            print(f"bench: no such benchmark: {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
        benchmarks = [path for path in benchmarks if path.stem in wanted]
    if not benchmarks:
        print("bench: no benchmarks found in bench/", file=sys.stderr)
        return 1

    python = venv_python()
    results: list[tuple[str, int, float]] = []
    for path in benchmarks:
        print(f"=== bench/{path.name}", flush=True)
        started = time.perf_counter()
        returncode = subprocess.run([python, str(path)], cwd=ROOT, check=False).returncode
        results.append((path.stem, returncode, time.perf_counter() - started))

    print("\n=== summary")
    for name, returncode, seconds in results:
        status = "ok" if returncode == 0 else f"FAILED (exit {returncode})"
        print(f"  {name:<30} {status:<20} {seconds:8.1f} s")
    failed = [name for name, returncode, _ in results if returncode != 0]
    if failed:
        print(
            f"bench: {len(failed)} of {len(results)} failed: {', '.join(failed)}", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
