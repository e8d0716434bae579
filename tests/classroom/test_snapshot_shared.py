"""classroom/selectors.py: the parts of a learner's snapshot every learner
shares are built once per session and seq (core/rooms/shared.py), so a
class joining at once costs one build plus a small own part per learner,
and each learner still gets exactly what a snapshot built from scratch says."""

from __future__ import annotations

import threading

import pytest
from django.db import close_old_connections, connection
from django.test.utils import CaptureQueriesContext

from classroom.access import access_live_session
from classroom.models import ChatChannel
from classroom.selectors import LEARNER_SHARED, session_snapshot_get, snapshot_shared_clear
from classroom.services import chat, polls, sessions
from courses.models import Role
from tests.factories import EnrollmentFactory, SeatFactory, TableFactory

# A learner's own part: the session row, who is online, who is away, their
# poll answers.
OWN_QUERIES = 4
# Their table's part, once per table and seq: the table, its members, its chat.
TABLE_QUERIES = 3
# The parts every learner shares, once per seq (with who upvoted what).
SHARED_QUERIES = 10


def _class(course, instructor, live_session, tables: int = 2, per_table: int = 3):
    sessions.live_session_start(session_id=live_session.pk, actor=instructor)
    learners = []
    for _ in range(tables):
        table = TableFactory(course=course)
        for _ in range(per_table):
            user = EnrollmentFactory(course=course, role=Role.LEARNER).user
            SeatFactory(table=table, user=user)
            sessions.attendance_join(
                session_id=live_session.pk, user=user, connection=f"c{user.pk}"
            )
            learners.append(user)
    poll = polls.poll_open(
        session_id=live_session.pk,
        actor=instructor,
        kind="single",
        prompt="p",
        definition={"options": [{"text": "A"}, {"text": "B"}]},
    )
    polls.poll_vote_cast(
        session_id=live_session.pk, user=learners[0], poll_id=poll.pk, answer={"option": "b"}
    )
    chat.chat_send(
        session_id=live_session.pk, user=instructor, channel="class", body="hi", is_staff=True
    )
    chat.chat_send(
        session_id=live_session.pk,
        user=learners[0],
        channel=ChatChannel.TABLE,
        body="our table",
        is_staff=False,
    )
    return learners


def _snapshot(user, session_id) -> tuple[int, dict]:
    access = access_live_session(user=user, session_id=session_id)
    with CaptureQueriesContext(connection) as queries:
        data = session_snapshot_get(access=access)
    return len(queries), data


def _comparable(data: dict) -> dict:
    return {key: value for key, value in data.items() if key != "server_time"}


@pytest.mark.django_db
def test_the_shared_part_is_built_once_per_seq_and_each_learner_reads_only_their_own(
    course, instructor, live_session
):
    # Given a class at two tables with a poll, class chat and table chat
    learners = _class(course, instructor, live_session)
    first_table, second_table = learners[:3], learners[3:]

    # When the learners take their snapshots at the same seq
    cold, _ = _snapshot(first_table[0], live_session.pk)
    same_table, _ = _snapshot(first_table[1], live_session.pk)
    other_table, _ = _snapshot(second_table[0], live_session.pk)
    warm = [_snapshot(user, live_session.pk)[0] for user in [first_table[2], *second_table[1:]]]

    # Then only the first builds the shared part, only the first of each table its table
    assert cold == SHARED_QUERIES + TABLE_QUERIES + OWN_QUERIES
    assert same_table == OWN_QUERIES
    assert other_table == TABLE_QUERIES + OWN_QUERIES
    assert warm == [OWN_QUERIES] * 3

    # When a frame moves the seq, the next learner builds the shared part again, once
    chat.chat_send(
        session_id=live_session.pk, user=instructor, channel="class", body="later", is_staff=True
    )
    rebuilt, data = _snapshot(second_table[1], live_session.pk)
    again, _ = _snapshot(second_table[2], live_session.pk)
    assert rebuilt == SHARED_QUERIES + TABLE_QUERIES + OWN_QUERIES
    assert again == OWN_QUERIES
    assert [m["body"] for m in data["chat"]["messages"]] == ["hi", "later"]


@pytest.mark.django_db
def test_each_learner_gets_what_a_snapshot_built_from_scratch_says(
    course, instructor, live_session
):
    learners = _class(course, instructor, live_session)
    shared = {user.pk: _snapshot(user, live_session.pk)[1] for user in learners}
    LEARNER_SHARED.enabled = False
    try:
        scratch = {user.pk: _snapshot(user, live_session.pk)[1] for user in learners}
    finally:
        LEARNER_SHARED.enabled = True
    for user in learners:
        assert _comparable(shared[user.pk]) == _comparable(scratch[user.pk])
    # Own parts stay own: only the voter sees an answer, only one table its chat.
    answers = [shared[user.pk]["polls"][0]["my_answer"] for user in learners]
    assert answers == [{"option": "b"}] + [None] * 5
    tables = [[m["body"] for m in shared[u.pk]["chat"]["messages"]] for u in learners]
    assert tables == [["hi", "our table"]] * 3 + [["hi"]] * 3


@pytest.mark.django_db
def test_staff_snapshots_are_built_whole_and_see_what_learners_do_not(
    course, instructor, live_session
):
    learners = _class(course, instructor, live_session)
    _snapshot(learners[3], live_session.pk)  # the shared part is warm
    _count, staff = _snapshot(instructor, live_session.pk)
    assert "staff" in staff
    assert [m["body"] for m in staff["chat"]["messages"]] == ["hi", "our table"]
    assert staff["polls"][0]["results"]["responses"] == 1


@pytest.mark.django_db(transaction=True)
def test_a_class_arriving_at_once_builds_the_shared_part_once(course, instructor, live_session):
    # Given 12 learners at two tables, none has a snapshot yet
    learners = _class(course, instructor, live_session, tables=2, per_table=6)
    snapshot_shared_clear()
    accesses = [access_live_session(user=user, session_id=live_session.pk) for user in learners]
    builds = LEARNER_SHARED.builds
    barrier = threading.Barrier(len(accesses))
    results: list[dict] = []
    failures: list[BaseException] = []

    def join(access) -> None:
        try:
            barrier.wait(10)
            results.append(session_snapshot_get(access=access))
        except BaseException as error:  # reported below
            failures.append(error)
        finally:
            close_old_connections()
            connection.close()

    # When they all ask for their snapshot at the same moment, in threads
    threads = [threading.Thread(target=join, args=(access,)) for access in accesses]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    # Then the shared part was built once, and each table's once
    assert failures == []
    assert len(results) == 12
    assert LEARNER_SHARED.builds - builds == 1 + 2
    assert {data["seq"] for data in results} == {results[0]["seq"]}
