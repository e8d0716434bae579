"""Real Celery worker processes for the fault tests: each in its own process
group (so SIGKILL takes the whole worker, pool children and their ffmpeg, as
when a machine or container dies), on a private queue of the test's Redis."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Short enough for a test, long enough to be realistic for its jobs (each runs
# in a few seconds): Redis gives an unacknowledged task back after this.
TEST_VISIBILITY_TIMEOUT = 15
TEST_TIME_LIMIT = 12
TEST_RESTORE_INTERVAL = 2


class Worker:
    def __init__(self, name: str, env: dict[str, str], workdir: Path) -> None:
        self.name = name
        self.log_path = workdir / f"worker-{name}.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker",
             "--pool=prefork", "--concurrency=1", "--loglevel=INFO",
             "-n", f"{name}@faults", "--without-gossip", "--without-mingle"],
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, seconds: float = 40) -> None:
        deadline = time.monotonic() + seconds
        while "ready." not in self.log():
            if self.process.poll() is not None:
                raise RuntimeError(f"worker {self.name} exited:\n{self.log()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"worker {self.name} not ready:\n{self.log()[-3000:]}")
            time.sleep(0.2)

    def pids(self) -> set[int]:
        """Every process of this worker's group (main, pool child, their children)."""
        found = set()
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                if os.getpgid(int(entry)) == self.process.pid:
                    found.add(int(entry))
            except ProcessLookupError:
                continue
        return found

    def running(self, program: str) -> bool:
        """Whether one of this worker's processes is `program` (e.g. ffmpeg)."""
        for pid in self.pids():
            try:
                if Path(f"/proc/{pid}/comm").read_text().strip() == program:
                    return True
            except OSError:
                continue
        return False

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self._log.close()

    def succeeded(self, task_id: str) -> int:
        return self.log().count(f"[{task_id}] succeeded")


def worker_env(database_url: str, redis_url: str, **extra: str) -> tuple[dict[str, str], str]:
    queue = f"faults-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DJANGO_ENV": "test",
        "CELERY_QUEUE": queue,
        "JOB_VISIBILITY_TIMEOUT": str(TEST_VISIBILITY_TIMEOUT),
        "JOB_TIME_LIMIT": str(TEST_TIME_LIMIT),
        "JOB_RESTORE_INTERVAL": str(TEST_RESTORE_INTERVAL),
        "PYTHONUNBUFFERED": "1",
        **extra,
    }
    return env, queue
