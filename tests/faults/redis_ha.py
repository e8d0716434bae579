"""A private Redis with Sentinel: a primary, a replica and three sentinels
(quorum 2) on free ports, from Debian's redis-server and redis-sentinel."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path

from tests.conftest import free_port

MASTER = "rtfaults"


def sentinel_available() -> bool:
    return bool(shutil.which("redis-server") and shutil.which("redis-sentinel"))


class RedisHA:
    def __init__(self, workdir: Path, sentinels: int = 3) -> None:
        self.workdir = Path(workdir)
        self.primary_port = free_port()
        self.replica_port = free_port()
        self.sentinel_ports = [free_port() for _ in range(sentinels)]
        self.processes: dict[str, subprocess.Popen] = {}

    def _start(self, name: str, args: list[str]) -> None:
        log = open(self.workdir / f"{name}.log", "w")  # noqa: SIM115
        self.processes[name] = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)

    def _server(self, name: str, port: int, *extra: str) -> None:
        folder = self.workdir / name
        folder.mkdir()
        self._start(
            name,
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(folder), *extra],
        )  # fmt: skip

    def start(self) -> RedisHA:
        self._server("primary", self.primary_port)
        self._wait(lambda: self.client(self.primary_port).ping(), "primary", 10)
        self._server(
            "replica", self.replica_port, "--replicaof", "127.0.0.1", str(self.primary_port)
        )
        self._wait(
            lambda: (
                self.client(self.replica_port).info("replication").get("master_link_status") == "up"
            ),
            "replica in sync",
            15,
        )
        for index, port in enumerate(self.sentinel_ports):
            conf = self.workdir / f"sentinel-{index}.conf"
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\ndaemonize no\ndir {self.workdir}\n"
                f"sentinel monitor {MASTER} 127.0.0.1 {self.primary_port} 2\n"
                f"sentinel down-after-milliseconds {MASTER} 1000\n"
                f"sentinel failover-timeout {MASTER} 10000\n"
                f"sentinel parallel-syncs {MASTER} 1\n"
            )
            self._start(f"sentinel-{index}", ["redis-sentinel", str(conf)])
        # Every sentinel knows the replica and the other sentinels.
        expected_peers = len(self.sentinel_ports) - 1

        def sentinels_ready() -> bool:
            for port in self.sentinel_ports:
                client = self.client(port)
                if len(client.sentinel_slaves(MASTER)) < 1:
                    return False
                if len(client.sentinel_sentinels(MASTER)) < expected_peers:
                    return False
            return True

        self._wait(sentinels_ready, "sentinels", 30)
        return self

    @staticmethod
    def client(port: int):
        import redis

        return redis.Redis(host="127.0.0.1", port=port, socket_timeout=1, socket_connect_timeout=1)

    def env(self) -> dict[str, str]:
        return {
            "REDIS_URL": "redis://sentinel-managed/0",
            "REDIS_SENTINELS": ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports),
            "REDIS_SENTINEL_MASTER": MASTER,
        }

    def master_port(self) -> int | None:
        for port in self.sentinel_ports:
            try:
                address = self.client(port).sentinel_get_master_addr_by_name(MASTER)
            except redis_errors():  # a sentinel busy or gone: ask the next  # noqa: S112
                continue
            if address:
                return int(address[1])
        return None

    def kill_primary(self) -> None:
        self.processes["primary"].send_signal(signal.SIGKILL)
        self.processes["primary"].wait(timeout=5)

    @staticmethod
    def _wait(check, what: str, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                if check():
                    return
            except redis_errors():  # not up yet  # noqa: S110
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{what} not ready within {seconds} s")

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name} ---\n{path.read_text(errors='replace')[-1500:]}"
            for path in sorted(self.workdir.glob("*.log"))
        )


def redis_errors() -> tuple[type[Exception], ...]:
    import redis

    return (redis.ConnectionError, redis.TimeoutError, redis.ResponseError)
