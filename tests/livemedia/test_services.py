"""livemedia: room ids, TURN credentials, the mode hook, talk events,
recording controls, the event intake and the Janus configuration."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.test import override_settings
from django.urls import reverse

from analytics.models import LearningEvent
from classroom.models import LiveSession, Participant, SessionState
from core.errors import ConflictError
from livemedia import janus_config, recording, services
from livemedia.conf import LEARNER_MEDIA_OFF, media_conf
from livemedia.views import talk_events_parse
from playback.models import Recording, RecordingStatus


@pytest.fixture
def live(live_session):
    LiveSession.objects.filter(pk=live_session.pk).update(state=SessionState.LIVE)
    live_session.refresh_from_db()
    return live_session


def test_room_ids_are_derived_unguessable_and_verified():
    room = services.room_id_for(42)
    assert room.startswith("rt42-") and len(room) == len("rt42-") + 16
    assert services.session_for_room(room) == 42
    assert services.session_for_room("rt42-0000000000000000") is None
    assert services.session_for_room("rt43-" + room[5:]) is None
    assert services.session_for_room("1234") is None


def test_feed_ids_carry_their_user():
    feed = services.feed_id_new(7)
    assert services.feed_user(feed) == 7
    assert services.feed_id_new(7) != feed
    assert services.feed_user("u7") is None and services.feed_user("x7-aaaaaaaa") is None


@override_settings(
    TURN_URLS=["turn:turn.example.org:3478"], TURN_SECRET="s3cret", TURN_TTL_SECONDS=600,
    STUN_URLS=["stun:turn.example.org:3478"],
)  # fmt: skip
def test_turn_credentials_follow_coturn_use_auth_secret():
    servers = services.ice_servers_for(5, now=1_000_000)
    assert servers[0] == {"urls": ["stun:turn.example.org:3478"]}
    turn = servers[1]
    assert turn["username"] == "1000600:5"
    expected = base64.b64encode(hmac.new(b"s3cret", b"1000600:5", hashlib.sha1).digest()).decode()
    assert turn["credential"] == expected


@override_settings(TURN_URLS=[], TURN_SECRET="", STUN_URLS=[])
def test_no_ice_servers_without_settings():
    assert services.ice_servers_for(5) == []


def test_mode_change_tells_media_connections_after_commit(
    live, instructor, django_capture_on_commit_callbacks, monkeypatch
):
    from classroom.services.sessions import live_session_mode_set

    sent = []
    monkeypatch.setattr(
        "core.fanout.publish",
        lambda groups, text, **kw: sent.extend((group, json.loads(text)) for group in groups),
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        live_session_mode_set(session_id=live.pk, actor=instructor, mode="table_talk")
    assert not [s for s in sent if s[0] == f"media.{live.pk}"]
    for callback in callbacks:
        callback()
    media = [event for group, event in sent if group == f"media.{live.pk}"]
    assert len(media) == 1 and media[0]["type"] == "media.apply"


def _talk(session_id, user_id, kind, at):
    return {
        "type": 64,
        "timestamp": int(at.timestamp() * 1_000_000),
        "event": {
            "plugin": "janus.plugin.videoroom",
            "data": {
                "videoroom": kind,
                "room": services.room_id_for(session_id),
                "id": f"u{user_id}-abcdef01",
                "audio-level-dBov-avg": 30,
            },
        },
    }


def test_talk_events_are_parsed_and_forged_rooms_ignored():
    at = datetime(2026, 1, 1, tzinfo=UTC)
    batch = [
        _talk(3, 9, "talking", at),
        {**_talk(3, 9, "talking", at), "type": 2},
        {"type": 64, "event": {"plugin": "janus.plugin.videoroom", "data": {"videoroom": "talking", "room": "rt3-ffffffffffffffff", "id": "u9-abcdef01"}}},
        _talk(3, 9, "stopped-talking", at + timedelta(seconds=2)),
    ]  # fmt: skip
    parsed = talk_events_parse(batch)
    assert [(s, u, t) for s, u, t, _ in parsed] == [(3, 9, True), (3, 9, False)]
    assert parsed[1][3] - parsed[0][3] == timedelta(seconds=2)


def test_a_talk_becomes_one_spoke_event_with_its_duration(live, learner):
    start = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    assert (
        services.talk_event_apply(session_id=live.pk, user_id=learner.pk, talking=True, at=start)
        is None
    )
    duration = services.talk_event_apply(
        session_id=live.pk, user_id=learner.pk, talking=False, at=start + timedelta(seconds=4.25)
    )
    assert duration == 4250
    event = LearningEvent.objects.get(verb="spoke")
    assert (event.actor_id, event.duration_ms, event.live_session_id) == (learner.pk, 4250, live.pk)
    assert event.occurred_at == start
    assert Participant.objects.get(session=live, user=learner).last_spoke_at == start + timedelta(
        seconds=4.25
    )
    # A stop without a start records nothing.
    assert (
        services.talk_event_apply(session_id=live.pk, user_id=learner.pk, talking=False, at=start)
        is None
    )
    assert LearningEvent.objects.filter(verb="spoke").count() == 1


def test_talk_meters_sum_per_learner_and_table(live, course, learner):
    from classroom.models import Seat, Table

    table = Table.objects.create(course=course, name="T")
    Seat.objects.create(course=course, table=table, user=learner)
    start = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    for offset in (0, 10):
        services.talk_event_apply(
            session_id=live.pk,
            user_id=learner.pk,
            talking=True,
            at=start + timedelta(seconds=offset),
        )
        services.talk_event_apply(
            session_id=live.pk,
            user_id=learner.pk,
            talking=False,
            at=start + timedelta(seconds=offset + 3),
        )
    meters = services.talk_meters_get(live.pk)
    assert meters["learners"][learner.pk] == {"total_ms": 6000, "talking": False}
    assert meters["tables"][table.pk] == {"total_ms": 6000, "talking": 0}


def _basic(secret):
    return "Basic " + base64.b64encode(f"janus:{secret}".encode()).decode()


def test_event_intake_needs_the_shared_secret(client, live, learner):
    url = reverse("media-janus-events")
    start = datetime.now(tz=UTC)
    body = json.dumps(
        [
            _talk(live.pk, learner.pk, "talking", start),
            _talk(live.pk, learner.pk, "stopped-talking", start + timedelta(seconds=1)),
        ]
    )
    for header in ({}, {"HTTP_AUTHORIZATION": _basic("wrong")}, {"HTTP_AUTHORIZATION": "Bearer x"}):
        response = client.post(url, body, content_type="application/json", **header)
        assert response.status_code == 401
    assert not LearningEvent.objects.filter(verb="spoke").exists()
    response = client.post(
        url,
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=_basic(media_conf().events_secret),
    )
    assert response.status_code == 200
    assert LearningEvent.objects.get(verb="spoke").duration_ms == 1000
    assert (
        client.post(
            url,
            "{nope",
            content_type="application/json",
            HTTP_AUTHORIZATION=_basic(media_conf().events_secret),
        ).status_code
        == 400
    )


def test_recording_start_pause_resume_stop_keeps_spans(
    live, instructor, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr(recording, "recording_ingest_queue", queued.append)
    with django_capture_on_commit_callbacks(execute=True):
        started = recording.recording_start(session_id=live.pk, actor=instructor)
    rec = Recording.objects.get(pk=started["recording_id"])
    assert rec.status == RecordingStatus.PROCESSING and rec.recorded_from
    assert recording.recording_capture_get(live.pk) == (rec.pk, rec.spans.get().pk)
    with pytest.raises(ConflictError):
        recording.recording_start(session_id=live.pk, actor=instructor)
    with django_capture_on_commit_callbacks(execute=True):
        recording.recording_pause(session_id=live.pk, actor=instructor)
    assert recording.recording_capture_get(live.pk) is None
    assert recording.recording_state_get(live.pk)["state"] == "paused"
    with pytest.raises(ConflictError):
        recording.recording_pause(session_id=live.pk, actor=instructor)
    with django_capture_on_commit_callbacks(execute=True):
        recording.recording_resume(session_id=live.pk, actor=instructor)
        recording.recording_stop(session_id=live.pk, actor=instructor)
    spans = list(rec.spans.order_by("started_at"))
    assert len(spans) == 2 and all(span.ended_at for span in spans)
    first = spans[0].ended_at - spans[0].started_at
    assert spans[1].media_offset_ms == int(first.total_seconds() * 1000)
    assert queued == [rec.pk]
    assert recording.recording_state_get(live.pk) == {"state": "off", "recording_id": None}
    verbs = list(LearningEvent.objects.filter(recording_id=rec.pk).values_list("verb", flat=True))
    assert verbs == [
        "started_recording",
        "paused_recording",
        "resumed_recording",
        "stopped_recording",
    ]


def test_ingest_without_files_fails_with_its_reason(
    live, instructor, settings, tmp_path, monkeypatch
):
    from playback import ingest
    from playback.tasks import recording_ingest

    settings.JANUS_RECORDINGS_DIR = str(tmp_path)
    monkeypatch.setattr(ingest, "SETTLE_TIMEOUT", 0.1)
    monkeypatch.setattr(ingest, "SETTLE_SECONDS", 0.05)
    monkeypatch.setattr(recording, "recording_ingest_queue", lambda rid: None)
    started = recording.recording_start(session_id=live.pk, actor=instructor)
    recording.recording_stop(session_id=live.pk, actor=instructor)
    assert recording_ingest.apply(args=[started["recording_id"]]).get() == "failed"
    rec = Recording.objects.get(pk=started["recording_id"])
    assert rec.status == RecordingStatus.FAILED and not rec.file
    assert "no recording files" in rec.failure_reason
    assert rec.attempts == 1


def test_janus_config_is_locked_down(tmp_path):
    files = janus_config.render(
        config_dir=str(tmp_path), api_secret="A", admin_secret="B", room_admin_key="C",
        events_url="http://127.0.0.1:8000/media/janus-events/", events_secret="D",
        rtp_port_range="20000-20999",
    )  # fmt: skip
    core = files["janus.jcfg"]
    assert 'api_secret = "A"' in core and 'admin_secret = "B"' in core
    assert "janusoverlord" not in "".join(files.values())
    assert '"/var"' not in core  # recordings may live under /var
    assert "libjanus_sip.so" in core and "libjanus_streaming.so" in core  # disabled
    videoroom = files["janus.plugin.videoroom.jcfg"]
    assert "room-1234" not in videoroom and 'admin_key = "C"' in videoroom
    assert "string_ids = true" in videoroom
    assert "http = false" in files["janus.transport.http.jcfg"]  # no browser-facing API
    assert 'ws_ip = "127.0.0.1"' in files["janus.transport.websockets.jcfg"]
    assert 'admin_ip = "127.0.0.1"' in files["janus.transport.http.jcfg"]
    events = files["janus.eventhandler.sampleevh.jcfg"]
    assert 'backend_pwd = "D"' in events and 'events = "plugins"' in events


def test_room_creation_body_locks_the_room():
    body = services.room_create_body(9)
    assert body["admin_key"] == media_conf().room_admin_key
    assert body["is_private"] and body["require_pvtid"] and body["lock_record"]
    assert body["audiolevel_event"] and body["permanent"] is False
    assert body["secret"] == services.room_secret_for(9)


def test_session_end_stops_the_recording_and_unsubscribes_everyone(
    live, instructor, monkeypatch, django_capture_on_commit_callbacks
):
    sent, queued = [], []
    monkeypatch.setattr(
        "core.fanout.publish",
        lambda groups, text, **kw: sent.extend((g, json.loads(text)["type"]) for g in groups),
    )
    monkeypatch.setattr(recording, "recording_ingest_queue", queued.append)
    started = recording.recording_start(session_id=live.pk, actor=instructor)
    with django_capture_on_commit_callbacks(execute=True):
        recording.media_session_ended(session_id=live.pk, actor=instructor)
    assert queued == [started["recording_id"]]
    assert (f"media.{live.pk}", "media.apply") in sent
    assert recording.recording_state_get(live.pk)["state"] == "off"


def test_media_page_says_plainly_when_media_is_off(
    client, live, learner, instructor, settings, monkeypatch
):
    url = reverse("session-media", args=[live.pk])
    monkeypatch.setattr("livemedia.views.janus_installed", lambda: False)
    # Staff read why and how to turn media on.
    client.force_login(instructor)
    config = client.get(url).context["media_config"]
    assert config["status"]["available"] is False
    assert "not installed" in config["status"]["reason"]
    assert "apt-get install -y janus" in config["status"]["fix"]
    # A learner reads one plain line, no operator's command.
    client.force_login(learner)
    page = client.get(url)
    assert page.status_code == 200
    config = page.context["media_config"]
    assert config["ws_path"] == f"/ws/media/{live.pk}/"
    assert config["status"] == {"available": False, "reason": LEARNER_MEDIA_OFF, "fix": ""}
    assert client.get(reverse("media-status")).json()["available"] is False
    settings.JANUS_ENABLED = False
    assert "JANUS_ENABLED" in client.get(reverse("media-status")).json()["reason"]


def test_media_page_is_for_members_only(client, live, outsider):
    client.force_login(outsider)
    assert client.get(reverse("session-media", args=[live.pk])).status_code == 404
