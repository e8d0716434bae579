"""Media settings with their derived defaults (one place, read by Django and by
the Janus configuration generator, so both always agree)."""

from __future__ import annotations

import hashlib
import hmac
import shutil
from dataclasses import dataclass

from django.conf import settings


def _derived(name: str) -> str:
    """A stable secret derived from SECRET_KEY, for unconfigured installs."""
    return hmac.new(
        settings.SECRET_KEY.encode(), f"janus:{name}".encode(), hashlib.sha256
    ).hexdigest()[:40]


@dataclass(frozen=True)
class MediaConf:
    enabled: bool
    url: str
    admin_url: str
    api_secret: str
    admin_secret: str
    room_admin_key: str
    events_secret: str
    events_url: str
    recordings_dir: str
    rtp_port_range: str
    ice_enforce_list: str
    nat_1_1_mapping: str
    stun_server: str
    publisher_bitrate: int
    audio_active_packets: int
    audio_level_average: int


def media_conf() -> MediaConf:
    return MediaConf(
        enabled=getattr(settings, "JANUS_ENABLED", True),
        url=settings.JANUS_URL,
        admin_url=settings.JANUS_ADMIN_URL,
        api_secret=settings.JANUS_API_SECRET or _derived("api"),
        admin_secret=settings.JANUS_ADMIN_SECRET or _derived("admin"),
        room_admin_key=settings.JANUS_ROOM_ADMIN_KEY or _derived("room-admin"),
        events_secret=settings.JANUS_EVENTS_SECRET or _derived("events"),
        events_url=settings.JANUS_EVENTS_URL,
        recordings_dir=str(settings.JANUS_RECORDINGS_DIR),
        rtp_port_range=settings.JANUS_RTP_PORT_RANGE,
        ice_enforce_list=settings.JANUS_ICE_ENFORCE_LIST,
        nat_1_1_mapping=settings.JANUS_NAT_1_1_MAPPING,
        stun_server=settings.JANUS_STUN_SERVER,
        publisher_bitrate=settings.JANUS_PUBLISHER_BITRATE,
        audio_active_packets=settings.JANUS_AUDIO_ACTIVE_PACKETS,
        audio_level_average=settings.JANUS_AUDIO_LEVEL_AVERAGE,
    )


def janus_installed() -> bool:
    return shutil.which("janus") is not None


FIX_COMMAND = "sudo apt-get install -y janus janus-tools && make run"
# What learners read when media is off: how to turn it on is for staff.
LEARNER_MEDIA_OFF = "Audio and video are not available right now; everything else works."
