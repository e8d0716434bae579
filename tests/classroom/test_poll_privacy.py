"""An anonymous poll keeps nothing that links a learner to their answer or to
the time they answered (docs/polls.md, "Anonymous polls: exactly what is
stored"). The votes go through the learners' sockets; then every table of the
database (and every Redis key of this test's index) is read back."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connection
from django.utils import timezone

from classroom.models import ClientAction, LiveSession, Poll, PollResponse, SessionState
from config.asgi import application
from courses.models import Role, User
from tests.conftest import require
from tests.factories import EnrollmentFactory
from tests.utils import Client

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio, pytest.mark.timeout(90)]

ANN_SAYS = "Zebra crossing 7431"
BOB_SAYS = "Quokka island 9925"
NAMED_SAYS = "Platypus bill 5518"
MARGIN = dt.timedelta(seconds=0.5)  # around the vote's [sent, acked] window
QUIET = 1.2  # seconds without the learner's actions before and after the vote


@pytest.fixture
def room(course, instructor, live_session):
    people = {
        name: EnrollmentFactory(course=course, role=Role.LEARNER, user__username=name).user
        for name in ("ann", "bob")
    }
    LiveSession.objects.filter(pk=live_session.pk).update(state=SessionState.LIVE)
    return {"session": live_session, "instructor": instructor, **people}


async def _join(room, who: str) -> Client:
    client = await Client.connect(
        application, f"/ws/live/{room['session'].pk}/", room[who], name=who
    )
    assert client.connected
    assert (await client.receive())["type"] == "snapshot"
    return client


def links_to(*, user_id: int, poll_id: int, text: str, start: dt.datetime, end: dt.datetime):
    """Read every row of every table and list what ties this learner to this
    answer or to the time of answering:

    - a row that names the learner (a foreign key to the user table) and
      holds the answer text;
    - a row that holds the answer text and a time within [start, end];
    - a row that names the learner and the poll (a foreign key to the poll
      table, or object_type "poll" + object_id) and a time within [start, end];
    - a row that names the learner with an "answer…" time within [start, end];
    - a row that names the learner and holds any time within [start, end]
      (the caller keeps the learner's other actions out of that window).
    """
    user_table = User._meta.db_table
    poll_table = Poll._meta.db_table
    needle = text.casefold()
    found = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            relations = connection.introspection.get_relations(cursor, table)
            user_columns = {c for c, (_col, ref) in relations.items() if ref == user_table}
            poll_columns = {c for c, (_col, ref) in relations.items() if ref == poll_table}
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608
            columns = [column.name for column in cursor.description]
            for values in cursor.fetchall():
                row = dict(zip(columns, values, strict=True))
                names_user = any(row.get(c) == user_id for c in user_columns)
                names_poll = any(row.get(c) == poll_id for c in poll_columns) or (
                    row.get("object_type") == "poll" and str(row.get("object_id")) == str(poll_id)
                )
                holds_answer = any(needle in str(v).casefold() for v in values if v is not None)
                times = {
                    c: v for c, v in row.items() if isinstance(v, dt.datetime) and start <= v <= end
                }
                if names_user and holds_answer:
                    found.append((table, "learner + answer", row))
                if holds_answer and times:
                    found.append((table, "answer + time of answering", row))
                if names_user and names_poll and times:
                    found.append((table, "learner + poll + time of answering", row))
                if names_user and any("answer" in c for c in times):
                    found.append((table, "learner + answer time", row))
                if names_user and times:
                    found.append((table, "learner + time of answering", row))
    return found


def redis_values_holding(text: str) -> list[str]:
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    needle = text.casefold().encode()
    hits = []
    for key in client.scan_iter("*"):
        kind = client.type(key)
        if kind == b"string":
            values = [client.get(key) or b""]
        elif kind == b"zset":
            values = client.zrange(key, 0, -1)
        elif kind == b"list":
            values = client.lrange(key, 0, -1)
        elif kind == b"hash":
            values = list(client.hgetall(key).values())
        elif kind == b"set":
            values = list(client.smembers(key))
        else:
            continue
        if any(needle in value.lower() for value in values):
            hits.append(key.decode())
    return hits


async def _vote(client: Client, poll_id: int, text: str) -> dict:
    return await client.request("poll.vote", {"poll_id": poll_id, "answer": {"text": text}})


async def test_an_anonymous_answer_is_linked_to_nobody_and_to_no_time(room):
    require(
        bool(settings.REDIS_URL) and connection.vendor == "postgresql",
        "reads PostgreSQL's tables and Redis's keys",
    )
    teacher = await _join(room, "instructor")
    ann = await _join(room, "ann")
    bob = await _join(room, "bob")
    opened = await teacher.request(
        "poll.open",
        {
            "kind": "short_text",
            "prompt": "Name something striped",
            "definition": {"accepted": [BOB_SAYS]},  # a quiz: correctness is stored too
            "settings": {"anonymous": True, "allow_change": True, "show_live_results": True},
        },
    )
    assert opened["type"] == "ack", opened
    poll_id = opened["data"]["poll_id"]
    # Ann's vote alone in its window: her joining before it and her next
    # actions after it are more than the margin away.
    await asyncio.sleep(QUIET)
    start = timezone.now()
    ack = await _vote(ann, poll_id, ANN_SAYS)
    assert ack["type"] == "ack" and "data" not in ack, ack  # the ack carries nothing to keep
    end = timezone.now()
    await asyncio.sleep(QUIET)
    assert (await _vote(bob, poll_id, BOB_SAYS))["type"] == "ack"
    # One vote per learner, and an anonymous answer is final.
    again = await _vote(ann, poll_id, BOB_SAYS)
    assert again["type"] == "error" and again["data"]["code"] == "answer_locked", again
    # The staff tally counts both; the engagement panel marks nobody as having answered.
    tally, seen = await teacher.receive_until(
        lambda f: f["type"] == "poll.tally_changed" and f["data"]["responses"] == 2
    )
    assert "not_answered" not in tally["data"] and "right" not in tally["data"]
    engagements = [f for f in seen if f["type"] == "engagement.changed"]
    if not engagements:
        engagement, _seen = await teacher.receive_until(
            lambda f: f["type"] == "engagement.changed", timeout=5
        )
        engagements.append(engagement)
    for frame in engagements:
        assert not any(row["active"]["answered"] for row in frame["data"]["learners"].values())
    # Ann's page after a reload: answered, but the server cannot say what.
    ann_again = await _join(room, "ann")
    closed = await teacher.request("poll.close", {"poll_id": poll_id})
    assert closed["type"] == "ack"
    for client in (teacher, ann, bob, ann_again):
        await client.close()
    ann_poll = next(
        p
        for p in (await database_sync_to_async(_snapshot_polls)(room["session"], room["ann"]))
        if p["id"] == poll_id
    )
    assert ann_poll["answered"] is True and ann_poll["my_answer"] is None

    margin = MARGIN
    links = await database_sync_to_async(links_to)(
        user_id=room["ann"].pk,
        poll_id=poll_id,
        text=ANN_SAYS,
        start=start - margin,
        end=end + margin,
    )
    assert links == []
    # Her claim on the vote's frame id is kept (a retried frame is not applied
    # twice) with the poll's opening time, which everyone saw, and no result.
    claims = await database_sync_to_async(
        lambda: list(
            ClientAction.objects.filter(session=room["session"], user=room["ann"]).values_list(
                "created_at", "result"
            )
        )
    )()
    opened_at = await database_sync_to_async(
        lambda: Poll.objects.values_list("opened_at", flat=True).get(pk=poll_id)
    )()
    assert claims == [(opened_at, None)]
    # The answers are stored (the results need them), with no learner, no time,
    # and ids that are not the table's sequence (which would give the order of votes).
    rows = await database_sync_to_async(
        lambda: list(PollResponse.objects.filter(poll_id=poll_id).order_by("answer"))
    )()
    assert sorted(r.answer["text"] for r in rows) == sorted([ANN_SAYS, BOB_SAYS])
    assert all(r.user_id is None and r.answered_at is None for r in rows)
    sequence_head = await database_sync_to_async(_sequence_head)(PollResponse._meta.db_table)
    assert all(r.pk > sequence_head for r in rows)
    assert await database_sync_to_async(redis_values_holding)(ANN_SAYS) == []


async def test_the_same_reading_finds_the_link_of_a_named_poll(room):
    """The check above can fail: on a named poll it finds the learner's answer."""
    require(connection.vendor == "postgresql", "reads PostgreSQL's tables")
    teacher, ann = await _join(room, "instructor"), await _join(room, "ann")
    opened = await teacher.request(
        "poll.open", {"kind": "short_text", "prompt": "Name an animal", "definition": {}}
    )
    poll_id = opened["data"]["poll_id"]
    await asyncio.sleep(QUIET)
    start = timezone.now()
    assert (await _vote(ann, poll_id, NAMED_SAYS))["type"] == "ack"
    end = timezone.now()
    await asyncio.sleep(QUIET)
    for client in (teacher, ann):
        await client.close()
    links = await database_sync_to_async(links_to)(
        user_id=room["ann"].pk,
        poll_id=poll_id,
        text=NAMED_SAYS,
        start=start - MARGIN,
        end=end + MARGIN,
    )
    kinds = {(table, kind) for table, kind, _row in links}
    assert ("classroom_pollresponse", "learner + answer") in kinds
    assert ("analytics_learningevent", "learner + answer") in kinds
    assert ("classroom_participant", "learner + answer time") in kinds
    # The socket's claim on the vote's frame id, at the time it arrived.
    assert ("classroom_clientaction", "learner + time of answering") in kinds


def _snapshot_polls(session, user) -> list[dict]:
    from classroom.selectors import poll_list_for_snapshot

    return poll_list_for_snapshot(session_id=session.pk, user=user, is_staff=False, table_id=None)


def _sequence_head(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
        (sequence,) = cursor.fetchone()
        cursor.execute(f"SELECT last_value FROM {sequence}")  # noqa: S608
        return cursor.fetchone()[0]
