"""A media lab: a network namespace with Janus and Daphne inside, and helpers
to run aiortc participants in it (Janus skips loopback interfaces when it
gathers ICE candidates, so the namespace gets a veth with 127.0.0.2 and everything media-related
binds there; no packet leaves loopback addresses).

The test process stays in the root namespace (its database and Redis
connections); participant coroutines run on a thread that joined the
namespace (`setns` is per thread). Daphne inside reaches PostgreSQL over its
Unix socket (or the SQLite file); its channel layer is in-memory, so every
WebSocket of a scenario goes through that one Daphne.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLONE_NEWNET = 0x40000000
ADDRESS = "127.0.0.2"
DAPHNE_PORT = 8000


def janus_available() -> bool:
    return (
        shutil.which("janus") is not None and shutil.which("ip") is not None and os.geteuid() == 0
    )


def _run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True)


def patch_aioice(address: str = ADDRESS) -> None:
    """aiortc gathers only `address` (and never asks a public STUN server:
    pass RTCConfiguration(iceServers=[]))."""
    import aioice.ice

    aioice.ice.get_host_addresses = lambda use_ipv4=True, use_ipv6=False: [address]


def namespace_database_url() -> str:
    """The test database, reachable from inside the namespace."""
    from django.db import connection

    config = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{config['NAME']}"
    from urllib.parse import quote

    user = config.get("USER") or "postgres"
    password = f":{config['PASSWORD']}" if config.get("PASSWORD") else ""
    socket_dir = os.environ.get("PGSOCKET_DIR", "/var/run/postgresql")
    return f"postgres://{user}{password}@{quote(socket_dir, safe='')}/{config['NAME']}"


class MediaLab:
    def __init__(self, workdir: Path) -> None:
        self.name = f"rtm{os.getpid()}{secrets.token_hex(2)}"
        self.workdir = Path(workdir)
        self.config_dir = self.workdir / "janus"
        self.recordings_dir = self.workdir / "recordings"
        self.media_root = self.workdir / "media"
        self.janus: subprocess.Popen | None = None
        self.daphne: subprocess.Popen | None = None
        self.base_url = f"http://127.0.0.1:{DAPHNE_PORT}"
        self.ws_url = f"ws://127.0.0.1:{DAPHNE_PORT}"

    # --- Namespace ---------------------------------------------------------------

    def start(self, *, daphne: bool = True) -> MediaLab:
        _run("ip", "netns", "add", self.name)
        try:
            ns = ("ip", "netns", "exec", self.name)
            _run(*ns, "ip", "link", "set", "lo", "up")
            _run(*ns, "ip", "link", "add", "rtv0", "type", "veth", "peer", "name", "rtv1")
            _run(*ns, "ip", "addr", "add", f"{ADDRESS}/32", "dev", "rtv0")
            _run(*ns, "ip", "link", "set", "rtv0", "up")
            _run(*ns, "ip", "link", "set", "rtv1", "up")
            self._start_janus()
            if daphne:
                self._start_daphne()
        except BaseException:
            self.stop()
            raise
        return self

    def env(self) -> dict[str, str]:
        return {
            "JANUS_URL": "ws://127.0.0.1:8188/",
            "JANUS_ADMIN_URL": "http://127.0.0.1:7088/admin",
            "JANUS_EVENTS_URL": f"{self.base_url}/media/janus-events/",
            "JANUS_RECORDINGS_DIR": str(self.recordings_dir),
            "JANUS_ICE_ENFORCE_LIST": ADDRESS,
            "MEDIA_ROOT": str(self.media_root),
        }

    def _start_janus(self, append_log: bool = False) -> None:
        from livemedia import janus_config

        self.recordings_dir.mkdir(parents=True, exist_ok=True)
        self.media_root.mkdir(parents=True, exist_ok=True)
        janus_config.write(
            self.config_dir,
            ice_enforce_list=ADDRESS,
            events_url=f"{self.base_url}/media/janus-events/",
            rtp_port_range="20000-20999",
        )
        self.janus_log = open(self.workdir / "janus.log", "a" if append_log else "w")  # noqa: SIM115
        self.janus = subprocess.Popen(
            ["ip", "netns", "exec", self.name, "janus", "-F", str(self.config_dir),
             "-C", str(self.config_dir / "janus.jcfg")],
            stdout=self.janus_log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        self._wait(lambda: self._admin_ok(), "Janus", 15)

    def kill_janus(self) -> None:
        """SIGKILL Janus (a crash: no goodbye to anyone)."""
        os.killpg(self.janus.pid, signal.SIGKILL)
        self.janus.wait(timeout=10)
        self.janus_log.close()

    def restart_janus(self) -> None:
        """Start Janus again with the same configuration (it comes back empty:
        no rooms, no sessions)."""
        self._start_janus(append_log=True)

    def _admin_ok(self) -> bool:
        if self.janus.poll() is not None:
            raise RuntimeError("janus exited:\n" + (self.workdir / "janus.log").read_text()[-3000:])
        return self.in_namespace(_http_ok, "http://127.0.0.1:7088/admin/info")

    def _start_daphne(self) -> None:
        env = {
            **os.environ,
            **self.env(),
            "DATABASE_URL": namespace_database_url(),
            "DJANGO_ENV": "test",
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("REDIS_URL", None)  # no Redis inside: in-memory layer, locmem cache, eager Celery
        self.daphne_log = open(self.workdir / "daphne.log", "w")  # noqa: SIM115
        self.daphne = subprocess.Popen(
            ["ip", "netns", "exec", self.name, sys.executable, "-m", "daphne", "-b", "127.0.0.1",
             "-p", str(DAPHNE_PORT), "config.asgi:application"],
            cwd=ROOT, env=env, stdout=self.daphne_log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

        def ready() -> bool:
            if self.daphne.poll() is not None:
                raise RuntimeError("daphne exited:\n" + self.log("daphne")[-3000:])
            return self.in_namespace(_http_ok, f"{self.base_url}/healthz")

        self._wait(ready, "Daphne", 30)

    def log(self, which: str) -> str:
        path = self.workdir / f"{which}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    @staticmethod
    def _wait(check, what: str, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.2)
        raise RuntimeError(f"{what} did not come up within {seconds} s")

    def stop(self) -> None:
        for process in (self.daphne, self.janus):
            if process is None or process.poll() is not None:
                continue
            with _suppress():
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with _suppress():
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
        subprocess.run(["ip", "netns", "delete", self.name], capture_output=True)

    # --- Running code inside ------------------------------------------------------------

    def in_namespace(self, function, *args):
        """Run function(*args) on a fresh thread inside the namespace; return its result."""
        box: dict = {}

        def target() -> None:
            try:
                fd = os.open(f"/var/run/netns/{self.name}", os.O_RDONLY)
                try:
                    libc = ctypes.CDLL("libc.so.6", use_errno=True)
                    if libc.setns(fd, CLONE_NEWNET) != 0:
                        raise OSError(ctypes.get_errno(), "setns failed")
                finally:
                    os.close(fd)
                box["result"] = function(*args)
            except BaseException as error:  # noqa: BLE001
                box["error"] = error

        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        thread.join()
        if "error" in box:
            raise box["error"]
        return box.get("result")

    def run(self, coroutine_function, *args):
        """asyncio.run(coroutine_function(*args)) inside the namespace."""
        return self.in_namespace(lambda: asyncio.run(coroutine_function(*args)))


class _suppress:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return True


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310
            return response.status < 500
    except OSError as error:
        return getattr(error, "code", 0) in (400, 401, 403, 405)
