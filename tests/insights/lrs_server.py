"""A real Learning Record Store for the tests: Ralph's own server with its
file-system backend, in its own venv (`.venv-ralph`, from
requirements-ralph.lock: Ralph's CLI pins an older click than Celery, so it
cannot live in .venv). The venv is made once and kept while the lock file
is unchanged (`make ralph-venv` makes it too)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
import urllib.request
from base64 import b64encode
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".venv-ralph"
LOCK = ROOT / "requirements-ralph.lock"
USERNAME, PASSWORD = "roundtable", "lrs-test-password"


def ralph_venv() -> Path:
    """The venv's `ralph` executable, installing it if the lock changed."""
    digest = hashlib.sha256(LOCK.read_bytes()).hexdigest()[:16]
    marker = VENV / f".installed-{digest}"
    ralph = VENV / "bin" / "ralph"
    if not marker.exists():
        python = shutil.which("python3.11") or "python3.11"
        if VENV.exists():
            shutil.rmtree(VENV)
        subprocess.run([python, "-m", "venv", str(VENV)], check=True)
        subprocess.run(
            [str(VENV / "bin" / "pip"), "install", "--quiet", "--no-deps", "-r", str(LOCK)],
            check=True,
        )
        marker.touch()
    return ralph


@contextmanager
def ralph_lrs(directory: Path, port: int):
    """Yields the LRS's xAPI base URL, with one user (USERNAME, PASSWORD)."""
    ralph = ralph_venv()
    env = {
        **os.environ,
        "RALPH_RUNSERVER_BACKEND": "fs",
        "RALPH_AUTH_FILE": str(directory / "auth.json"),
        "RALPH_APP_DIR": str(directory / "app"),
    }
    subprocess.run(
        [
            str(ralph),
            "auth",
            "-u",
            USERNAME,
            "-p",
            PASSWORD,
            "-s",
            "all",
            "-M",
            "mailto:lrs@example.org",
            "-w",
        ],
        check=True,
        env=env,
        cwd=directory,
        capture_output=True,
    )
    log = (directory / "server.log").open("w+")
    process = subprocess.Popen(
        [
            str(ralph),
            "runserver",
            "-b",
            "fs",
            "--fs-default-directory-path",
            str(directory / "data"),
            "-p",
            str(port),
        ],
        env=env,
        cwd=directory,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/xAPI/"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError("the Ralph LRS exited")
            try:
                statements_get(url)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the Ralph LRS did not answer within 60 s") from None
                time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.seek(0)
        print(log.read()[-4000:])
        log.close()


def statements_get(url: str) -> list[dict]:
    """Every statement the LRS holds (following `more`)."""
    import json

    found: list[dict] = []
    next_url = url.rstrip("/") + "/statements?limit=500"
    base = url.split("/xAPI/")[0]
    token = b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
    while next_url:
        request = urllib.request.Request(  # noqa: S310 (a local test server)
            next_url,
            headers={"Authorization": f"Basic {token}", "X-Experience-API-Version": "1.0.3"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            body = json.loads(response.read())
        found += body["statements"]
        more = body.get("more")
        next_url = base + more if more else None
    return found
