"""Generate the Janus configuration folder from Django's settings.

    python -m livemedia.janus_config --out DIR [--events-url URL]
    janus -F DIR -C DIR/janus.jcfg

Only what Roundtable uses is enabled: the VideoRoom plugin, the WebSocket API
(Django's link, with the API secret), the HTTP admin API and the sample HTTP
event handler (talk events to Django). Everything binds to 127.0.0.1 unless
JANUS_BIND says otherwise (compose); demo rooms and Debian's well-known admin
secret are gone. /etc/janus is never touched.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from livemedia.conf import media_conf

LIB = "/usr/lib/x86_64-linux-gnu/janus"
PLUGINS_ENABLED = {"libjanus_videoroom.so"}
PLUGINS_ALL = [
    "libjanus_audiobridge.so", "libjanus_duktape.so", "libjanus_echotest.so", "libjanus_lua.so",
    "libjanus_nosip.so", "libjanus_recordplay.so", "libjanus_sip.so", "libjanus_streaming.so",
    "libjanus_textroom.so", "libjanus_videocall.so", "libjanus_videoroom.so", "libjanus_voicemail.so",
]  # fmt: skip
TRANSPORTS_ENABLED = {"libjanus_websockets.so", "libjanus_http.so"}
TRANSPORTS_ALL = [
    "libjanus_http.so", "libjanus_mqtt.so", "libjanus_nanomsg.so", "libjanus_pfunix.so",
    "libjanus_rabbitmq.so", "libjanus_websockets.so",
]  # fmt: skip
EVENTS_ALL = [
    "libjanus_gelfevh.so", "libjanus_mqttevh.so", "libjanus_nanomsgevh.so",
    "libjanus_rabbitmqevh.so", "libjanus_sampleevh.so", "libjanus_wsevh.so",
]  # fmt: skip
# Recording writes below this list's folders fail silently: /var is left out on
# purpose (recordings live under MEDIA_ROOT, often in /var/lib).
PROTECTED = ["/bin", "/boot", "/dev", "/etc", "/initrd", "/lib", "/lib32", "/lib64", "/proc", "/sbin", "/sys", "/usr"]  # fmt: skip


def _q(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(str(value))


def _block(name: str, items: dict) -> str:
    lines = [f"{name}: {{"]
    for key, value in items.items():
        if value is None or value == "":
            continue
        if isinstance(value, list):
            inner = ", ".join(_q(v) for v in value)
            lines.append(f"\t{key} = [{inner}]")
        else:
            lines.append(f"\t{key} = {_q(value)}")
    lines.append("}")
    return "\n".join(lines)


def render(
    *,
    config_dir: str,
    api_secret: str,
    admin_secret: str,
    room_admin_key: str,
    events_url: str,
    events_secret: str,
    rtp_port_range: str,
    ice_enforce_list: str = "",
    nat_1_1_mapping: str = "",
    stun_server: str = "",
    bind: str = "127.0.0.1",
    ws_port: int = 8188,
    admin_port: int = 7088,
    lib: str = LIB,
    debug_level: int = 4,
) -> dict[str, str]:
    """The files of a Janus configuration folder, by name."""
    stun_host, _, stun_port = stun_server.partition(":")
    general = {
        "configs_folder": config_dir,
        "plugins_folder": f"{lib}/plugins",
        "transports_folder": f"{lib}/transports",
        "events_folder": f"{lib}/events",
        "loggers_folder": f"{lib}/loggers",
        "debug_level": debug_level,
        "log_to_stdout": True,
        "server_name": "roundtable",
        "session_timeout": 60,
        "api_secret": api_secret,
        "admin_secret": admin_secret,
        "protected_folders": PROTECTED,
    }
    nat = {
        "nice_debug": False,
        "ice_ignore_list": "vmnet",
        "ice_enforce_list": ice_enforce_list,
        "nat_1_1_mapping": nat_1_1_mapping,
        "stun_server": stun_host,
        "stun_port": int(stun_port or 3478) if stun_host else None,
        "ignore_mdns": True,
    }
    files = {
        "janus.jcfg": "\n".join(
            [
                _block("general", general),
                _block("certificates", {}),
                _block("media", {"rtp_port_range": rtp_port_range, "no_media_timer": 2}),
                _block("nat", nat),
                _block(
                    "plugins",
                    {"disable": ",".join(p for p in PLUGINS_ALL if p not in PLUGINS_ENABLED)},
                ),
                _block(
                    "transports",
                    {"disable": ",".join(t for t in TRANSPORTS_ALL if t not in TRANSPORTS_ENABLED)},
                ),
                _block("loggers", {"disable": "libjanus_jsonlog.so"}),
                _block(
                    "events",
                    {
                        "broadcast": True,
                        "disable": ",".join(e for e in EVENTS_ALL if e != "libjanus_sampleevh.so"),
                        "stats_period": 0,
                    },
                ),
            ]
        )
        + "\n",
        # Rooms are created by Django at run time (admin_key), never from this file.
        "janus.plugin.videoroom.jcfg": _block(
            "general", {"admin_key": room_admin_key, "string_ids": True, "lock_rtp_forward": True}
        )
        + "\n",
        "janus.transport.websockets.jcfg": "\n".join(
            [
                _block(
                    "general",
                    {"json": "plain", "ws": True, "ws_port": ws_port, "ws_ip": bind, "wss": False},
                ),
                _block("admin", {"admin_ws": False, "admin_wss": False}),
            ]
        )
        + "\n",
        "janus.transport.http.jcfg": "\n".join(
            [
                # The plain HTTP API is off: browsers never speak to Janus.
                _block("general", {"json": "plain", "http": False, "https": False}),
                _block(
                    "admin",
                    {
                        "admin_base_path": "/admin",
                        "admin_http": True,
                        "admin_port": admin_port,
                        "admin_ip": bind,
                        "admin_https": False,
                    },
                ),
            ]
        )
        + "\n",
        # Only plugin events (talking / stopped-talking, publish) go to Django.
        "janus.eventhandler.sampleevh.jcfg": _block(
            "general",
            {
                "enabled": True,
                "events": "plugins",
                "grouping": True,
                "json": "plain",
                "backend": events_url,
                "backend_user": "janus",
                "backend_pwd": events_secret,
                "max_retransmissions": 3,
                "retransmissions_backoff": 100,
            },
        )
        + "\n",
    }
    return files


def write(directory: str | os.PathLike, **overrides) -> Path:
    """Write the folder from Django settings (plus overrides, e.g. for tests)."""
    conf = media_conf()
    directory = Path(directory).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    values = {
        "config_dir": str(directory),
        "api_secret": conf.api_secret,
        "admin_secret": conf.admin_secret,
        "room_admin_key": conf.room_admin_key,
        "events_url": conf.events_url,
        "events_secret": conf.events_secret,
        "rtp_port_range": conf.rtp_port_range,
        "ice_enforce_list": conf.ice_enforce_list,
        "nat_1_1_mapping": conf.nat_1_1_mapping,
        "stun_server": conf.stun_server,
    }
    values.update(overrides)
    for name, text in render(**values).items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        path.chmod(0o600)  # holds secrets
    Path(conf.recordings_dir).mkdir(parents=True, exist_ok=True)
    return directory


def main(argv: list[str] | None = None) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--events-url", default=None)
    parser.add_argument("--bind", default=os.environ.get("JANUS_BIND", "127.0.0.1"))
    parser.add_argument("--lib", default=os.environ.get("JANUS_LIB", LIB))
    args = parser.parse_args(argv)
    overrides = {"bind": args.bind, "lib": args.lib}
    if args.events_url:
        overrides["events_url"] = args.events_url
    print(write(args.out, **overrides))


if __name__ == "__main__":
    main()
