"""A class connecting at once (docs/realtime.md, "Joining"): the cookies,
accesses, attendance joins and snapshots of the learners who connect to one
process meanwhile are read and written in batches. Each learner must get
exactly what the one-by-one path gives them, and a batch's cost must not
grow with its size."""

from __future__ import annotations

import asyncio

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext

from analytics.models import LearningEvent
from classroom import consumers
from classroom.access import access_live_session, access_live_session_many
from classroom.models import Attendance, Participant, SessionState
from classroom.selectors import (
    LEARNER_SHARED,
    session_snapshot_get,
    session_snapshots_get,
    snapshot_shared_clear,
)
from classroom.services import chat, polls, sessions
from config.asgi import application
from core import wsauth
from core.errors import ApplicationError
from courses.models import Role
from tests.classroom.test_consumer import path
from tests.factories import EnrollmentFactory, SeatFactory, TableFactory, UserFactory
from tests.utils import Client


def _learners(course, count: int, table=None) -> list:
    table = table or TableFactory(course=course)
    users = []
    for _ in range(count):
        user = EnrollmentFactory(course=course, role=Role.LEARNER).user
        SeatFactory(table=table, user=user)
        users.append(user)
    return users


def _outcome(value):
    if isinstance(value, ApplicationError):
        return ("error", type(value).__name__, value.code)
    return (
        "access",
        value.session.pk,
        value.course_access.role,
        value.table_id,
        value.is_staff,
        value.may_participate,
    )


def _one_by_one(user, session_id):
    try:
        return access_live_session(user=user, session_id=session_id)
    except ApplicationError as error:
        return error


@pytest.mark.django_db
def test_batched_accesses_are_what_each_users_own_access_says(
    course, instructor, ta, observer, outsider, platform_admin, live_session
):
    from django.contrib.auth.models import AnonymousUser

    seated = _learners(course, 2)
    unseated = EnrollmentFactory(course=course, role=Role.LEARNER).user
    lapsed = EnrollmentFactory(course=course, role=Role.LEARNER, is_active=False).user
    users = [
        *seated,
        unseated,
        instructor,
        ta,
        observer,
        outsider,
        lapsed,
        platform_admin,
        AnonymousUser(),
    ]

    with CaptureQueriesContext(connection) as queries:
        batched = access_live_session_many(users=users, session_id=live_session.pk)

    assert [_outcome(o) for o in batched] == [
        _outcome(_one_by_one(u, live_session.pk)) for u in users
    ]
    assert len(queries) == 3  # the session, the roles, the tables: whatever the count
    missing = access_live_session_many(users=seated, session_id=live_session.pk + 999)
    assert {_outcome(o) for o in missing} == {("error", "NotFoundError", "session_not_found")}


@pytest.mark.django_db
def test_batched_joins_count_each_connection_and_record_one_joined_per_person(course, live_session):
    live_session.state = SessionState.LIVE
    live_session.save()
    ann, bob = _learners(course, 2)
    joins = [
        sessions.AttendanceJoin(user=ann, connection="ann-1"),
        sessions.AttendanceJoin(user=bob, connection="bob-1"),
        sessions.AttendanceJoin(user=ann, connection="ann-2"),  # a second tab, same batch
    ]

    with CaptureQueriesContext(connection) as queries:
        counts = sessions.attendance_join_many(live_session.pk, joins)

    assert counts == [1, 1, 2]
    assert len(queries) <= 9  # BEGIN, 7 statements, COMMIT: not one set per join
    assert Attendance.objects.filter(session=live_session, left_at__isnull=True).count() == 3
    assert set(
        Participant.objects.filter(session=live_session).values_list("user_id", flat=True)
    ) == {ann.pk, bob.pk}
    joined = LearningEvent.objects.filter(verb="joined", live_session_id=live_session.pk)
    assert sorted(joined.values_list("actor_id", flat=True)) == sorted([ann.pk, bob.pk])
    # A later join of one of them goes on counting (and records nothing new)
    assert sessions.attendance_join_many(
        live_session.pk, [sessions.AttendanceJoin(user=ann, connection="ann-3")]
    ) == [3]
    assert joined.count() == 2


def _class_with_history(course, instructor, live_session):
    sessions.live_session_start(session_id=live_session.pk, actor=instructor)
    first = _learners(course, 3)
    second = _learners(course, 2)
    learners = [*first, *second]
    for user in learners:
        sessions.attendance_join(session_id=live_session.pk, user=user, connection=f"c{user.pk}")
    anonymous = polls.poll_open(
        session_id=live_session.pk,
        actor=instructor,
        kind="single",
        prompt="secret",
        definition={"options": [{"text": "A"}, {"text": "B"}]},
        settings_={"anonymous": True},
    )
    polls.poll_vote_cast(
        session_id=live_session.pk, user=first[1], poll_id=anonymous.pk, answer={"option": "a"}
    )
    poll = polls.poll_open(
        session_id=live_session.pk,
        actor=instructor,
        kind="single",
        prompt="p",
        definition={"options": [{"text": "A"}, {"text": "B"}]},
    )
    polls.poll_vote_cast(
        session_id=live_session.pk, user=first[0], poll_id=poll.pk, answer={"option": "b"}
    )
    polls.poll_vote_cast(
        session_id=live_session.pk, user=second[0], poll_id=poll.pk, answer={"option": "a"}
    )
    question = chat.question_ask(session_id=live_session.pk, user=second[1], body="why?")
    chat.question_upvote(session_id=live_session.pk, user=first[2], question_id=question.pk)
    chat.chat_send(
        session_id=live_session.pk, user=first[0], channel="table", body="hi", is_staff=False
    )
    return learners


def _comparable(data: dict) -> dict:
    return {key: value for key, value in data.items() if key != "server_time"}


@pytest.mark.django_db
def test_batched_snapshots_are_what_each_member_gets_alone(course, instructor, live_session):
    learners = _class_with_history(course, instructor, live_session)
    accesses = [
        access_live_session(user=user, session_id=live_session.pk)
        for user in [*learners, instructor]
    ]

    snapshot_shared_clear()
    with CaptureQueriesContext(connection) as queries:
        batched = session_snapshots_get(session_id=live_session.pk, accesses=accesses[:-1])
    cold = len(queries)
    with CaptureQueriesContext(connection) as queries:
        session_snapshots_get(session_id=live_session.pk, accesses=accesses[:2])
    warm = len(queries)
    staff = session_snapshots_get(session_id=live_session.pk, accesses=accesses[-1:])[0]

    LEARNER_SHARED.enabled = False  # each built from scratch, one by one
    try:
        alone = [session_snapshot_get(access=access) for access in accesses]
    finally:
        LEARNER_SHARED.enabled = True
    assert [_comparable(d) for d in batched] == [_comparable(d) for d in alone[:-1]]
    # (the engagement markers hold times measured when each was built)
    staff["staff"].pop("engagement")
    alone[-1]["staff"].pop("engagement")
    assert _comparable(staff) == _comparable(alone[-1])
    # Their own parts came through: an answer, a ballot, an upvote
    by_user = {d["me"]["id"]: d for d in batched}
    assert by_user[learners[0].pk]["polls"][1]["my_answer"] == {"option": "b"}
    assert by_user[learners[1].pk]["polls"][0]["answered"] is True
    assert by_user[learners[0].pk]["polls"][0]["answered"] is False
    assert by_user[learners[2].pk]["questions"][0]["upvoted_by_me"] is True
    assert by_user[learners[3].pk]["questions"][0]["upvoted_by_me"] is False
    assert {d["present"] for d in batched} == {len(learners)}
    # Five learners at two tables cost the two that arrive warm only their batch's reads
    assert warm == 5, warm  # the session, online, away, the answers, the ballots
    assert cold < warm + 20


@pytest.mark.django_db
def test_one_members_failing_snapshot_is_theirs_alone(
    course, instructor, live_session, monkeypatch
):
    learners = _class_with_history(course, instructor, live_session)
    accesses = [access_live_session(user=user, session_id=live_session.pk) for user in learners]
    from classroom import selectors

    original = selectors._learner_snapshot

    def broken_for_the_second(access, *args):
        if access.user.pk == learners[1].pk:
            raise RuntimeError("a bug")
        return original(access, *args)

    monkeypatch.setattr(selectors, "_learner_snapshot", broken_for_the_second)
    outcomes = session_snapshots_get(session_id=live_session.pk, accesses=accesses)
    assert isinstance(outcomes[1], RuntimeError)
    assert all(isinstance(o, dict) for i, o in enumerate(outcomes) if i != 1)


def _session_key(user) -> str:
    client = HttpClient()
    client.force_login(user)
    return client.session.session_key


@pytest.mark.django_db
def test_cookies_resolved_together_are_the_users_djangos_get_user_finds(course):
    ann, bob, cat, dan = (EnrollmentFactory(course=course).user for _ in range(4))
    keys = {
        name: _session_key(user) for name, user in zip("abcd", (ann, bob, cat, dan), strict=True)
    }
    cat.set_password("a-new-horse-battery")  # its old session's hash no longer matches
    cat.save()
    dan.is_active = False
    dan.save()
    expired = _session_key(UserFactory())
    Session.objects.filter(session_key=expired).update(expire_date="2000-01-01T00:00:00Z")
    batch = [keys["a"], keys["b"], keys["c"], keys["d"], "no-such-key", expired, keys["a"]]

    with CaptureQueriesContext(connection) as queries:
        users = wsauth._users_for_sessions("users", batch)

    assert users[0] == ann and users[1] == bob and users[6] == ann
    assert all(user.is_anonymous for user in users[2:6])
    # cat's session went through Django's get_user, which flushed it
    assert not Session.objects.filter(session_key=keys["c"]).exists()
    # ann's and bob's sessions and rows were read once, in the batch's two queries
    for user, key in ((ann, keys["a"]), (bob, keys["b"])):
        assert sum(key in q["sql"] for q in queries) == 1
        assert sum(f'"id" = {user.pk}' in q["sql"] for q in queries) == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_a_class_connecting_at_once_shares_batches_and_each_gets_its_snapshot(
    course, instructor, live_session
):
    from asgiref.sync import sync_to_async

    @sync_to_async
    def arrange():
        live_session.state = SessionState.LIVE
        live_session.save()
        return _learners(course, 12)

    learners = await arrange()
    consumers.ENTRIES.batch_sizes.clear()
    clients = await asyncio.gather(
        *(Client.connect(application, path(live_session), user) for user in learners)
    )
    snapshots = await asyncio.gather(*(client.receive() for client in clients))

    for user, frame in zip(learners, snapshots, strict=True):
        assert frame["type"] == "snapshot"
        assert frame["data"]["me"]["id"] == user.pk
        mine = {m["id"]: m for m in frame["data"]["table"]["members"]}
        assert mine[user.pk]["online"] is True  # the snapshot counts this connection
        assert frame["data"]["present"] >= 1
    assert max(consumers.ENTRIES.batch_sizes) > 1
    assert sum(consumers.ENTRIES.batch_sizes) == len(learners)
    open_rows = await sync_to_async(
        lambda: Attendance.objects.filter(session=live_session, left_at__isnull=True).count()
    )()
    assert open_rows == len(learners)
    for client in clients:
        await client.close()
