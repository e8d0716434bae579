"""classroom/services/polls.py `poll_votes_apply`: a batch of live votes in
one transaction (group commit, docs/polls.md "How votes are applied"). Each
vote keeps its own outcome; the batch keeps every guarantee of a vote on its
own (one answer per voter, a frame id applied once, changes, quiz grading,
anonymous privacy, the learning event). On SQLite the same calls go vote by
vote: the outcomes are the same."""

from __future__ import annotations

import pytest
from django.db import connection

from analytics.models import LearningEvent
from classroom.models import ClientAction, Participant, PollBallot, PollResponse
from classroom.services import polls, sessions
from core.errors import ApplicationError
from courses.models import Role
from tests.factories import EnrollmentFactory, SeatFactory, TableFactory

pytestmark = pytest.mark.django_db

CHOICES = {"options": [{"text": "A"}, {"text": "B"}, {"text": "C"}], "correct": ["b"]}


@pytest.fixture
def crowd(live_session, instructor, course):
    """Twelve present learners, seated at two tables."""
    sessions.live_session_start(session_id=live_session.pk, actor=instructor)
    tables = TableFactory(course=course, name="A"), TableFactory(course=course, name="B")
    users = []
    for n in range(12):
        user = EnrollmentFactory(course=course, role=Role.LEARNER).user
        SeatFactory(table=tables[n % 2], user=user)
        sessions.attendance_join(session_id=live_session.pk, user=user, connection=f"c{n}")
        users.append(user)
    return {"session": live_session, "users": users, "tables": tables}


def _open(crowd, instructor, **settings_):
    polls.poll_scopes_clear()
    return polls.poll_open(
        session_id=crowd["session"].pk,
        actor=instructor,
        kind="single",
        prompt="Pick one",
        definition=CHOICES,
        settings_=settings_,
    )


def _apply(crowd, votes):
    return polls.poll_votes_apply(
        crowd["session"].pk,
        [polls.VoteRequest(user=u, client_id=cid, poll_id=p, answer=a) for u, cid, p, a in votes],
    )


def _code(outcome) -> str:
    assert isinstance(outcome, ApplicationError), outcome
    return outcome.code


def test_a_batch_stores_each_vote_once_and_answers_each_with_its_own_result(crowd, instructor):
    poll = _open(crowd, instructor)
    users = crowd["users"]
    options = ["abc"[n % 3] for n in range(len(users))]
    outcomes = _apply(
        crowd,
        [
            (u, f"v{n}", poll.pk, {"option": o})
            for n, (u, o) in enumerate(zip(users, options, strict=True))
        ],
    )
    assert outcomes == [
        (True, {"poll_id": poll.pk, "answer": {"option": o}, "changed": True}) for o in options
    ]
    rows = {r.user_id: r for r in PollResponse.objects.filter(poll=poll)}
    assert {u.pk: rows[u.pk].answer["option"] for u in users} == dict(
        zip([u.pk for u in users], options, strict=True)
    )
    # Quiz grading: "b" is right.
    assert all(r.is_correct == (r.answer["option"] == "b") for r in rows.values())
    assert all(r.score == (1.0 if r.is_correct else 0.0) for r in rows.values())
    assert all(r.first_answered_at and r.change_count == 0 for r in rows.values())
    events = LearningEvent.objects.filter(verb="answered", object_id=str(poll.pk))
    assert sorted(e.actor_id for e in events) == sorted(u.pk for u in users)
    assert all(e.extensions["changed"] is False for e in events)
    claims = ClientAction.objects.filter(session=crowd["session"], client_id__startswith="v")
    assert {(c.user_id, c.result["answer"]["option"]) for c in claims} == set(
        zip([u.pk for u in users], options, strict=True)
    )
    answered = Participant.objects.filter(
        session=crowd["session"], last_answered_at__isnull=False
    ).count()
    assert answered == len(users)


def test_one_bad_vote_fails_alone(crowd, instructor, course):
    poll = _open(crowd, instructor)
    users = crowd["users"]
    stranger = EnrollmentFactory(course=course, role=Role.LEARNER).user  # not present
    outcomes = _apply(
        crowd,
        [
            (users[0], "ok0", poll.pk, {"option": "a"}),
            (users[1], "bad", poll.pk, {"option": "zzz"}),
            (stranger, "away", poll.pk, {"option": "a"}),
            (users[2], "nopoll", poll.pk + 1000, {"option": "a"}),
            (users[3], "ok3", poll.pk, {"option": "c"}),
        ],
    )
    assert outcomes[0][0] is True and outcomes[4][0] is True
    assert _code(outcomes[1]) == "invalid_answer"
    assert _code(outcomes[2]) == "not_present"
    assert _code(outcomes[3]) == "poll_not_found"
    stored = set(PollResponse.objects.filter(poll=poll).values_list("user_id", flat=True))
    assert stored == {users[0].pk, users[3].pk}
    # A refused vote leaves no claim: the same id may be sent again.
    assert not ClientAction.objects.filter(client_id__in=["bad", "away", "nopoll"]).exists()
    again = _apply(crowd, [(users[1], "bad", poll.pk, {"option": "b"})])
    assert again == [(True, {"poll_id": poll.pk, "answer": {"option": "b"}, "changed": True})]


def test_a_frame_id_is_applied_once_inside_a_batch_and_across_batches(crowd, instructor):
    poll = _open(crowd, instructor)
    ann, bob = crowd["users"][:2]
    first = {"poll_id": poll.pk, "answer": {"option": "a"}, "changed": True}
    outcomes = _apply(
        crowd,
        [
            (ann, "same", poll.pk, {"option": "a"}),
            (bob, "b1", poll.pk, {"option": "b"}),
            (ann, "same", poll.pk, {"option": "c"}),  # the same frame, resent
        ],
    )
    assert outcomes[0] == (True, first)
    assert outcomes[2] == (False, first)
    # In a later batch, even with another answer, and after the poll closed.
    assert _apply(crowd, [(ann, "same", poll.pk, {"option": "c"})]) == [(False, first)]
    polls.poll_close(session_id=poll.session_id, actor=instructor, poll_id=poll.pk)
    later = _apply(
        crowd, [(ann, "same", poll.pk, {"option": "c"}), (bob, "b2", poll.pk, {"option": "c"})]
    )
    assert later[0] == (False, first)
    assert _code(later[1]) == "poll_closed"
    assert PollResponse.objects.get(poll=poll, user=ann).answer == {"option": "a"}
    assert ClientAction.objects.filter(user=ann, client_id="same").count() == 1
    assert LearningEvent.objects.filter(verb="answered", actor=ann).count() == 1


def test_changing_an_answer_in_a_batch(crowd, instructor):
    poll = _open(crowd, instructor)
    ann, bob = crowd["users"][:2]
    _apply(crowd, [(ann, "a1", poll.pk, {"option": "a"}), (bob, "b1", poll.pk, {"option": "b"})])
    outcomes = _apply(
        crowd,
        [
            (ann, "a2", poll.pk, {"option": "b"}),  # changed
            (bob, "b2", poll.pk, {"option": "b"}),  # the same again
            (ann, "a3", poll.pk, {"option": "c"}),  # ann's second vote of this batch
        ],
    )
    assert outcomes == [
        (True, {"poll_id": poll.pk, "answer": {"option": "b"}, "changed": True}),
        (True, {"poll_id": poll.pk, "answer": {"option": "b"}, "changed": False}),
        (True, {"poll_id": poll.pk, "answer": {"option": "c"}, "changed": True}),
    ]
    row = PollResponse.objects.get(poll=poll, user=ann)
    assert (row.first_answer, row.answer, row.change_count) == ({"option": "a"}, {"option": "c"}, 2)
    assert row.is_correct is False and row.answered_at > row.first_answered_at
    events = LearningEvent.objects.filter(verb="answered", actor=ann).order_by("occurred_at", "id")
    assert [e.extensions["change_count"] for e in events] == [0, 1, 2]
    assert [e.success for e in events] == [False, True, False]
    assert LearningEvent.objects.filter(verb="answered", actor=bob).count() == 1


def test_a_locked_answer_is_refused_alone(crowd, instructor):
    poll = _open(crowd, instructor, allow_change=False)
    ann, bob = crowd["users"][:2]
    _apply(crowd, [(ann, "a1", poll.pk, {"option": "a"})])
    outcomes = _apply(
        crowd, [(ann, "a2", poll.pk, {"option": "b"}), (bob, "b1", poll.pk, {"option": "b"})]
    )
    assert _code(outcomes[0]) == "answer_locked"
    assert outcomes[1][0] is True
    assert PollResponse.objects.get(poll=poll, user=ann).answer == {"option": "a"}


def test_an_anonymous_batch_links_no_one_to_an_answer(crowd, instructor):
    poll = _open(crowd, instructor, anonymous=True)
    users = crowd["users"]
    outcomes = _apply(
        crowd, [(u, f"x{n}", poll.pk, {"option": "abc"[n % 3]}) for n, u in enumerate(users)]
    )
    assert outcomes == [(True, None)] * len(users)
    rows = list(PollResponse.objects.filter(poll=poll))
    assert len(rows) == len(users)
    assert all(
        r.user_id is None and r.answered_at is None and r.first_answered_at is None for r in rows
    )
    assert all(r.pk >= 2**62 for r in rows)
    assert sorted(b.user_id for b in PollBallot.objects.filter(poll=poll)) == sorted(
        u.pk for u in users
    )
    claims = ClientAction.objects.filter(client_id__startswith="x")
    assert claims.count() == len(users)
    assert {c.result for c in claims} == {None}
    if connection.vendor == "postgresql":  # the batch path
        assert {c.created_at for c in claims} == {poll.opened_at}
    assert not LearningEvent.objects.filter(verb="answered", object_id=str(poll.pk)).exists()
    assert not Participant.objects.filter(last_answered_at__isnull=False).exists()
    # Final: a second answer is refused, in a batch with a first one.
    stranger = EnrollmentFactory(course=crowd["session"].course, role=Role.LEARNER).user
    sessions.attendance_join(session_id=poll.session_id, user=stranger, connection="s")
    again = _apply(
        crowd,
        [(users[0], "y0", poll.pk, {"option": "b"}), (stranger, "y1", poll.pk, {"option": "b"})],
    )
    assert _code(again[0]) == "answer_locked"
    assert again[1] == (True, None)


def test_per_table_and_shared_table_polls_in_a_batch(crowd, instructor, course):
    per_table = _open(crowd, instructor, scope="per_table")
    shared = polls.poll_open(
        session_id=crowd["session"].pk,
        actor=instructor,
        kind="single",
        prompt="Table answer",
        definition=CHOICES,
        settings_={"scope": "one_per_table"},
    )
    users = crowd["users"]
    unseated = EnrollmentFactory(course=course, role=Role.LEARNER).user
    sessions.attendance_join(session_id=per_table.session_id, user=unseated, connection="u")
    outcomes = _apply(
        crowd,
        [
            (users[0], "p0", per_table.pk, {"option": "a"}),
            (users[1], "p1", per_table.pk, {"option": "b"}),
            (unseated, "p2", per_table.pk, {"option": "b"}),
            (users[2], "s0", shared.pk, {"option": "c"}),
            (users[3], "s1", shared.pk, {"option": "a"}),
        ],
    )
    assert [o[0] if isinstance(o, tuple) else o.code for o in outcomes] == [
        True,
        True,
        "not_seated",
        True,
        True,
    ]
    tables = dict(PollResponse.objects.filter(poll=per_table).values_list("user_id", "table_id"))
    assert tables == {users[0].pk: crowd["tables"][0].pk, users[1].pk: crowd["tables"][1].pk}
    # One shared answer per table (users 2 and 3 sit at tables A and B).
    assert PollResponse.objects.filter(poll=shared).count() == 2


def test_a_database_error_in_a_batch_falls_back_to_one_vote_at_a_time(crowd, instructor):
    """A real constraint of the database (added for this test) refuses one
    answer: the batch's statement fails, the batch is rolled back, and its
    votes are applied one by one: only that vote fails."""
    poll = _open(crowd, instructor)
    table = PollResponse._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f'ALTER TABLE "{table}" ADD CONSTRAINT test_no_c '  # noqa: S608
                "CHECK (answer->>'option' <> 'c')"
            )
        else:
            cursor.execute(
                f'CREATE TRIGGER test_no_c BEFORE INSERT ON "{table}" '  # noqa: S608
                "WHEN json_extract(NEW.answer, '$.option') = 'c' "
                "BEGIN SELECT RAISE(ABORT, 'no c'); END"
            )
    users = crowd["users"][:4]
    outcomes = _apply(
        crowd, [(u, f"f{n}", poll.pk, {"option": "abca"[n]}) for n, u in enumerate(users)]
    )
    assert [o[0] for o in (outcomes[0], outcomes[1], outcomes[3])] == [True, True, True]
    assert isinstance(outcomes[2], Exception) and not isinstance(outcomes[2], ApplicationError)
    stored = set(PollResponse.objects.filter(poll=poll).values_list("user_id", flat=True))
    assert stored == {users[0].pk, users[1].pk, users[3].pk}
    assert not ClientAction.objects.filter(client_id="f2").exists()
