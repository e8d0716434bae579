"""Real Celery worker processes for the fault tests: each in its own process
group (so SIGKILL takes the whole worker, pool children and their ffmpeg, as
when a machine or container dies), on a private queue of the test's Redis."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
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
        self.env = env
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


@contextlib.contextmanager
def running_workers(
    env: dict[str, str], workdir: Path, names: tuple[str, ...]
) -> Iterator[list[Worker]]:
    """Start one worker per name on the env's queue, wait until each is ready,
    and stop them all (printing the end of each log) however the test ends."""
    started = []
    try:
        for name in names:
            started.append(Worker(name, env, workdir))
        for worker in started:
            worker.wait_ready()
        yield started
    finally:
        for worker in started:
            worker.stop()
            print(f"--- worker {worker.name} ---\n{worker.log()[-4000:]}")


def wait_for(check, seconds: float, what: str):
    """Poll `check` until it returns something true (returned), or fail."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError(f"{what} within {seconds} s")


def task_state_when_done(task_id: str, seconds: float) -> str:
    """The task's final state (SUCCESS or FAILURE), or its state at the deadline."""
    from celery.result import AsyncResult

    result = AsyncResult(task_id)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and result.state not in ("SUCCESS", "FAILURE"):
        time.sleep(0.2)
    return result.state
