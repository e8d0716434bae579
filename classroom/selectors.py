from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from classroom import payloads
from classroom.models import (
    Attendance,
    ChatChannel,
    ChatMessage,
    HelpFlag,
    LiveSession,
    Participant,
    Poll,
    PollBallot,
    PollKind,
    PollResponse,
    PollScope,
    Question,
    QuestionUpvote,
    Seat,
    SessionState,
    Table,
    Timer,
)
from classroom.payloads import STREAMS
from core.rooms.shared import SharedParts
from courses.models import STAFF_ROLES, Course, Enrollment, Role, User
from courses.selectors import course_list_for_user


def _is_past(session: LiveSession, now: datetime) -> bool:
    if session.state in (SessionState.ENDED, SessionState.CANCELLED):
        return True
    return session.state == SessionState.SCHEDULED and session.scheduled_end < now


def live_session_list(*, course: Course) -> QuerySet[LiveSession]:
    return LiveSession.objects.filter(course=course).order_by("scheduled_start", "id")


@dataclass
class CourseSessions:
    course: Course
    role: str | None
    upcoming: list[LiveSession] = field(default_factory=list)
    past: list[LiveSession] = field(default_factory=list)

    @property
    def role_label(self) -> str:
        return str(Role(self.role).label) if self.role else ""

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES


def course_sessions_split(
    *, sessions: list[LiveSession], now: datetime | None = None, past_limit: int | None = None
) -> tuple[list[LiveSession], list[LiveSession]]:
    """(upcoming incl. live, soonest first; past, most recent first)."""
    now = now or timezone.now()
    upcoming = [s for s in sessions if not _is_past(s, now)]
    past = sorted(
        (s for s in sessions if _is_past(s, now)), key=lambda s: s.scheduled_start, reverse=True
    )
    return upcoming, past[:past_limit] if past_limit else past


def home_overview_get(
    *, user: User, now: datetime | None = None, past_limit: int = 5
) -> list[CourseSessions]:
    """The user's courses, each with its upcoming and recent past sessions.
    Two queries whatever the number of courses."""
    courses = list(course_list_for_user(user=user))
    sessions_by_course: dict[int, list[LiveSession]] = {course.pk: [] for course in courses}
    for session in LiveSession.objects.filter(course_id__in=sessions_by_course).order_by(
        "scheduled_start", "id"
    ):
        sessions_by_course[session.course_id].append(session)
    overview = []
    for course in courses:
        upcoming, past = course_sessions_split(
            sessions=sessions_by_course[course.pk], now=now, past_limit=past_limit
        )
        overview.append(
            CourseSessions(course=course, role=course.viewer_role, upcoming=upcoming, past=past)
        )
    return overview


def seat_map_get(*, course_id: int) -> list[dict]:
    """Every table of the course in order with its members (two queries)."""

    tables = list(Table.objects.filter(course_id=course_id).order_by("position", "id"))
    members: dict[int, list[dict]] = {table.pk: [] for table in tables}
    seats = (
        Seat.objects.filter(course_id=course_id).select_related("user").order_by("created_at", "id")
    )
    for seat in seats:
        members[seat.table_id].append({"id": seat.user_id, "name": seat.user.name})
    return [
        {
            "id": table.pk,
            "name": table.name,
            "capacity": table.capacity,
            "members": members[table.pk],
        }
        for table in tables
    ]


def table_members_get(*, table_id: int) -> list[dict]:

    seats = (
        Seat.objects.filter(table_id=table_id).select_related("user").order_by("created_at", "id")
    )
    return [{"id": seat.user_id, "name": seat.user.name} for seat in seats]


ENGAGEMENT_WINDOW_SECONDS = 5 * 60


def engagement_list(*, session_id: int) -> dict:
    """Staff only: per learner, which markers were active in the last 5 minutes,
    and reaction counts. Never sent to learners."""

    now = timezone.now()
    since = now - timedelta(seconds=ENGAGEMENT_WINDOW_SECONDS)
    fields = {
        "chatted": "last_chatted_at",
        "reacted": "last_reacted_at",
        "answered": "last_answered_at",
        "spoke": "last_spoke_at",
    }

    session = LiveSession.objects.only("course_id").get(pk=session_id)
    learner_ids = Enrollment.objects.filter(
        course_id=session.course_id, role=Role.LEARNER, is_active=True
    ).values("user_id")
    learners = {}
    for participant in Participant.objects.filter(session_id=session_id, user_id__in=learner_ids):
        markers = {
            name: bool(getattr(participant, field) and getattr(participant, field) >= since)
            for name, field in fields.items()
        }
        learners[str(participant.user_id)] = {
            "active": markers,
            "reactions": participant.reaction_counts or {},
            "away": participant.is_away,
        }
    return {"window_seconds": ENGAGEMENT_WINDOW_SECONDS, "at": now, "learners": learners}


def session_seq_get(session_id: int) -> int:
    """The session's current frame seq (0 for a session that does not exist)."""
    return LiveSession.objects.filter(pk=session_id).values_list("seq", flat=True).first() or 0


CHAT_HISTORY_LIMIT = 200


# The parts of a learner's snapshot every learner of a session sees alike,
# built once per session and seq in each process (core/rooms/shared.py).
LEARNER_SHARED = SharedParts("live")


def snapshot_shared_clear() -> None:
    """Forget the shared snapshot parts (tests that write rows directly,
    without the frames that would move `seq`)."""
    LEARNER_SHARED.clear()


def _learner_shared_build(session: LiveSession) -> dict:
    """What every learner of the session sees identically at its current seq:
    podium, hands, timers, polls (public part, published results), class chat,
    questions, announcements and which tables asked for help. Each of these
    changes only through a service that emits a sequenced frame."""
    # A real cycle: the services import classroom.events, which imports this module.
    from classroom.services.room import hand_queue_get, podium_get

    history = list(
        ChatMessage.objects.filter(session=session, channel=ChatChannel.CLASS)
        .select_related("author")
        .order_by("-created_at", "-id")[:CHAT_HISTORY_LIMIT]
    )
    history.reverse()
    polls = []
    for poll in (
        Poll.objects.filter(session_id=session.pk)
        .select_related("session__course")
        .order_by("opened_at", "id")
    ):
        public = poll_public_payload(poll)
        results = poll_results_get(poll=poll, for_staff=False) if poll.published_at else None
        polls.append((poll.pk, poll.scope, poll.is_anonymous, public, results))
    return {
        "podium": podium_get(session.pk),
        "hands": hand_queue_get(session.pk),
        # Unfiltered by time: a timer that runs out moves no seq (filtered per snapshot).
        "timers": list(Timer.objects.filter(session_id=session.pk, stopped_at__isnull=True)),
        "messages": [payloads.message_payload(message) for message in history],
        "questions": [
            (payloads.question_payload(question), question.author_id)
            for question in Question.objects.filter(
                session=session, deleted_at__isnull=True
            ).select_related("author")
        ],
        "polls": polls,
        # Who upvoted which question (an upvote moves the seq: question.changed).
        "upvoters": _upvoters(session),
        "announcements": [
            payloads.announcement_payload(a)
            for a in session.announcements.select_related("author").order_by("-created_at")[:5]
        ],
        # Enrolments move no seq: `max_age` of LEARNER_SHARED bounds how late
        # a new TA appears in a learner's snapshot (the page's list, not access).
        "staff_members": _staff_members(session),
        "help_tables": set(
            HelpFlag.objects.filter(session_id=session.pk, resolved_at__isnull=True).values_list(
                "table_id", flat=True
            )
        ),
    }


def _table_shared_build(session: LiveSession, table_id: int) -> dict:
    """What every member of one table sees alike: the table and its chat."""
    table = Table.objects.get(pk=table_id)
    history = list(
        ChatMessage.objects.filter(session=session, channel=ChatChannel.TABLE, table_id=table_id)
        .select_related("author")
        .order_by("-created_at", "-id")[:CHAT_HISTORY_LIMIT]
    )
    history.reverse()
    return {
        "id": table.pk,
        "name": table.name,
        "members": table_members_get(table_id=table_id),
        "messages": [payloads.message_payload(message) for message in history],
    }


def _upvoters(session: LiveSession) -> dict[int, set[int]]:
    upvoters: dict[int, set[int]] = {}
    for question_id, user_id in QuestionUpvote.objects.filter(
        question__session=session, question__deleted_at__isnull=True
    ).values_list("question_id", "user_id"):
        upvoters.setdefault(question_id, set()).add(user_id)
    return upvoters


def _viewer_presence(*, session: LiveSession, user) -> tuple[set[int], set[int], set[int]]:
    """The viewer's upvoted questions, who is online and who is away (three
    queries; the per-learner part of a snapshot)."""
    my_upvotes = set(
        QuestionUpvote.objects.filter(question__session=session, user=user).values_list(
            "question_id", flat=True
        )
    )
    online, away = _presence_get(session)
    return my_upvotes, online, away


def session_snapshot_get(*, access) -> dict:
    """Exactly what this user may see of the session, as one frame's data.
    The seq is read first: anything committed after it arrives as frames
    (which clients apply idempotently). A learner's snapshot takes what every
    learner shares from `LEARNER_SHARED` (built once per seq) and reads only
    their own part; staff snapshots are built whole."""
    outcome = session_snapshots_get(session_id=access.session.pk, accesses=[access])[0]
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


def session_snapshots_get(*, session_id: int, accesses: list) -> list:
    """The snapshots of several members of one session joining at once (a
    class arriving at 9:00), one outcome per access, in order: the data, or
    the exception that one member's snapshot raised. The session row, the
    shared parts, who is online and away, and the learners' own poll answers
    are read once for all of them (a fixed number of queries, whatever their
    number); each staff member's snapshot is built whole."""
    session = LiveSession.objects.select_related("course", "mode_table").get(pk=session_id)
    learners = [access for access in accesses if not access.is_staff]
    if learners:
        shared = LEARNER_SHARED.get(session.pk, session.seq, lambda: _learner_shared_build(session))
        online, away = _presence_get(session)
        answers = _learner_poll_answers(shared["polls"], learners)
    outcomes: list = []
    for access in accesses:
        try:
            if access.is_staff:
                outcomes.append(_staff_snapshot_get(access=access, session=session))
            else:
                outcomes.append(_learner_snapshot(access, session, shared, online, away, answers))
        except Exception as error:  # this member's alone (a bug, logged by the caller)
            outcomes.append(error)
    return outcomes


def _presence_get(session: LiveSession) -> tuple[set[int], set[int]]:
    """Who is online (an open attendance interval) and who is away (two queries)."""
    online = set(
        Attendance.objects.filter(session=session, left_at__isnull=True).values_list(
            "user_id", flat=True
        )
    )
    away = set(
        Participant.objects.filter(session=session, is_away=True).values_list("user_id", flat=True)
    )
    return online, away


def _learner_snapshot(access, session, shared, online, away, answers) -> dict:
    user = access.user
    table_id = access.table_id
    table = None
    messages = shared["messages"]
    if table_id is not None:
        table = LEARNER_SHARED.child(
            session.pk, session.seq, table_id, lambda: _table_shared_build(session, table_id)
        )
        if table["messages"]:
            merged = sorted(
                [*messages, *table["messages"]], key=lambda m: (m["created_at"], m["id"])
            )
            messages = merged[-CHAT_HISTORY_LIMIT:]
    my_table = None
    if table is not None:
        members = [
            {**member, "online": member["id"] in online, "away": member["id"] in away}
            for member in table["members"]
        ]
        my_table = {
            "id": table["id"],
            "name": table["name"],
            "members": members,
            "help_open": table_id in shared["help_tables"],
        }
    now = timezone.now()
    upvoters = shared["upvoters"]
    data = _snapshot_common(access=access, session=session, away=away, now=now)
    data.update(
        {
            "podium": shared["podium"],
            "hands": shared["hands"],
            "timers": [
                payloads.timer_payload(timer) for timer in shared["timers"] if timer.ends_at > now
            ],
            "table": my_table,
            "chat": {
                "channels": [ChatChannel.CLASS]
                + ([ChatChannel.TABLE] if table_id is not None else []),
                "messages": messages,
            },
            "questions": [
                {
                    **payload,
                    "upvoted_by_me": user.pk in upvoters.get(payload["id"], ()),
                    # Only to its author: their own question, even an anonymous one.
                    "asked_by_me": author_id == user.pk,
                }
                for payload, author_id in shared["questions"]
            ],
            "staff_members": shared["staff_members"],
            "present": len(online),
            "polls": _learner_polls(shared["polls"], answers, user=user, table_id=table_id),
            "announcements": shared["announcements"],
        }
    )
    return data


def _snapshot_common(*, access, session: LiveSession, away: set, now) -> dict:
    user = access.user
    heads = session.stream_heads or {}
    return {
        "seq": session.seq,
        "heads": {
            stream: seq
            for stream, seq in heads.items()
            if STREAMS.visible(
                stream, user_id=user.pk, table_id=access.table_id, is_staff=access.is_staff
            )
        },
        "server_time": now,
        "me": {
            "id": user.pk,
            "name": user.name,
            "role": access.course_access.role or "admin",
            "is_staff": access.is_staff,
            "may_participate": access.may_participate,
            "table_id": access.table_id,
            "away": user.pk in away,
        },
        "course": {
            "id": session.course_id,
            "code": session.course.code,
            "title": session.course.title,
        },
        "session": payloads.session_payload(session),
        "mode": payloads.mode_payload(session),
    }


def _staff_members(session: LiveSession) -> list[dict]:
    return [
        {"id": e.user_id, "name": e.user.name, "role": e.role}
        for e in Enrollment.objects.filter(
            course_id=session.course_id, role__in=STAFF_ROLES, is_active=True
        )
        .select_related("user")
        .order_by("role", "user__display_name")
    ]


def _poll_keys(shared_polls: list, *, user, table_id: int | None) -> tuple[dict, list[int]]:
    """The voter keys this learner's own answers are stored under (poll id
    by key) and the anonymous polls (whose ballots say only that they answered)."""
    # A real cycle: the services import classroom.events, which imports this module.
    from classroom.services.polls import voter_key

    keys = {}
    anonymous = []
    for poll_id, scope, is_anonymous, _public, _results in shared_polls:
        if is_anonymous:
            anonymous.append(poll_id)
        elif scope == PollScope.ONE_PER_TABLE and table_id is not None:
            keys[voter_key(poll_id=poll_id, table_id=table_id)] = poll_id
        else:
            keys[voter_key(poll_id=poll_id, user_id=user.pk)] = poll_id
    return keys, anonymous


def _learner_poll_answers(shared_polls: list, accesses: list) -> dict:
    """The stored answers and anonymous ballots of these learners: two
    queries at most, whatever the number of polls and learners. Keyed by
    (poll id, voter key) and (poll id, user id)."""
    if not shared_polls:
        return {"responses": {}, "ballots": set()}
    keys: dict[str, int] = {}
    anonymous: list[int] = []
    for access in accesses:
        mine, anonymous = _poll_keys(shared_polls, user=access.user, table_id=access.table_id)
        keys.update(mine)
    responses = {}
    if keys:
        for response in PollResponse.objects.filter(
            poll_id__in=set(keys.values()), voter_key__in=list(keys)
        ).only("poll_id", "voter_key", "answer", "is_correct"):
            if keys.get(response.voter_key) == response.poll_id:
                responses[(response.poll_id, response.voter_key)] = response
    ballots = (
        set(
            PollBallot.objects.filter(
                poll_id__in=anonymous, user_id__in=[access.user.pk for access in accesses]
            ).values_list("poll_id", "user_id")
        )
        if anonymous
        else set()
    )
    return {"responses": responses, "ballots": ballots}


def _learner_polls(shared_polls: list, answers: dict, *, user, table_id: int | None) -> list[dict]:
    """The shared poll items with this learner's own answer (from `answers`:
    `_learner_poll_answers`)."""
    keys, _anonymous = _poll_keys(shared_polls, user=user, table_id=table_id)
    by_poll = {poll_id: key for key, poll_id in keys.items()}
    mine = {}
    for poll_id, key in by_poll.items():
        response = answers["responses"].get((poll_id, key))
        if response is not None:
            mine[poll_id] = response
    balloted = {poll_id for poll_id, user_id in answers["ballots"] if user_id == user.pk}
    payload = []
    for poll_id, _scope, is_anonymous, public, results in shared_polls:
        item = dict(public)
        response = None if is_anonymous else mine.get(poll_id)
        # Nothing links an anonymous answer to its learner: only the ballot
        # says that they answered (docs/polls.md).
        item["answered"] = poll_id in balloted if is_anonymous else response is not None
        item["my_answer"] = response.answer if response else None
        if results is not None:
            item["results"] = results
            item["my_correct"] = response.is_correct if response else None
        payload.append(item)
    return payload


def _staff_table(table_id: int | None, *, online: set, away: set) -> dict | None:
    if table_id is None:
        return None
    table = Table.objects.get(pk=table_id)
    members = table_members_get(table_id=table_id)
    for member in members:
        member["online"] = member["id"] in online
        member["away"] = member["id"] in away
    return {"id": table.pk, "name": table.name, "members": members}


def _staff_snapshot_get(*, access, session: LiveSession) -> dict:
    """Staff see every channel, the tallies and the engagement: built whole."""
    # A real cycle: the services import classroom.events, which imports this module.
    from classroom.services.room import hand_queue_get, help_queue_get, podium_get, timers_active

    user = access.user
    history = list(
        ChatMessage.objects.filter(session=session)
        .select_related("author")
        .order_by("-created_at", "-id")[:CHAT_HISTORY_LIMIT]
    )
    history.reverse()
    questions = Question.objects.filter(session=session, deleted_at__isnull=True).select_related(
        "author"
    )
    my_upvotes, online, away = _viewer_presence(session=session, user=user)
    data = _snapshot_common(access=access, session=session, away=away, now=timezone.now())
    seat_map = seat_map_get(course_id=session.course_id)
    for table in seat_map:
        for member in table["members"]:
            member["online"] = member["id"] in online
            member["away"] = member["id"] in away
    data.update(
        {
            "podium": podium_get(session.pk),
            "hands": hand_queue_get(session.pk),
            "timers": [payloads.timer_payload(timer) for timer in timers_active(session.pk)],
            "table": _staff_table(access.table_id, online=online, away=away),
            "chat": {
                "channels": [ChatChannel.CLASS, ChatChannel.TABLE, ChatChannel.STAFF],
                "messages": [payloads.message_payload(m) for m in history],
            },
            "questions": [
                {
                    **payloads.question_payload(q),
                    "upvoted_by_me": q.pk in my_upvotes,
                    "asked_by_me": q.author_id == user.pk,
                }
                for q in questions
            ],
            "staff_members": _staff_members(session),
            "present": len(online),
            "polls": poll_list_for_snapshot(
                session_id=session.pk, user=user, is_staff=True, table_id=access.table_id
            ),
            "announcements": [
                payloads.announcement_payload(a)
                for a in session.announcements.select_related("author").order_by("-created_at")[:5]
            ],
            "staff": {
                "seat_map": seat_map,
                "help": [payloads.help_payload(flag) for flag in help_queue_get(session.pk)],
                "engagement": engagement_list(session_id=session.pk),
                "online": sorted(online),
            },
        }
    )
    return data


def attendance_seconds(*, session: LiveSession, user_id: int) -> float:
    """Time present: the union of the user's intervals, clipped to the session."""

    if session.started_at is None:
        return 0.0
    end_of_session = session.ended_at or timezone.now()
    intervals = sorted(
        (max(a.joined_at, session.started_at), min(a.left_at or end_of_session, end_of_session))
        for a in Attendance.objects.filter(session=session, user_id=user_id)
    )
    total = 0.0
    current_start = current_end = None
    for start, end in intervals:
        if end <= start:
            continue
        if current_end is None or start > current_end:
            if current_end is not None:
                total += (current_end - current_start).total_seconds()
            current_start, current_end = start, end
        else:
            current_end = max(current_end, end)
    if current_end is not None:
        total += (current_end - current_start).total_seconds()
    return total


# --- What happened in an ended session, per learner (reinforcement) -----------------


@dataclass(frozen=True)
class NamedResponse:
    """A learner's final answer to a named poll (never an anonymous one)."""

    poll_id: int
    user_id: int | None
    table_id: int | None
    is_correct: bool | None
    change_count: int
    time_to_first_ms: int | None
    answered_at: datetime | None


@dataclass
class SessionActivity:
    """Everything the platform stored about one session that follow-up needs,
    read in a fixed number of queries (no per-learner query)."""

    session: LiveSession
    learner_ids: list[int]
    seats: dict[int, int]  # learner id -> table id
    polls: list[Poll]  # in the order they were opened
    responses: list[NamedResponse]  # named polls only
    ballot_user_ids: set[int]  # answered at least one anonymous poll
    attendance: dict[int, list[tuple[datetime, datetime]]]  # clipped to the session
    chatted: set[int]
    asked: set[int]
    reacted: set[int]


def session_activity_get(*, session_id: int) -> SessionActivity | None:
    """An ended session's polls, named answers, attendance, chat, Q&A and
    reactions, by learner. Anonymous polls give no per-person answer: only
    that a learner voted (their ballot). None for an unknown session."""
    session = LiveSession.objects.select_related("course").filter(pk=session_id).first()
    if session is None:
        return None
    learner_ids = list(
        Enrollment.objects.filter(
            course_id=session.course_id, role=Role.LEARNER, is_active=True
        ).values_list("user_id", flat=True)
    )
    polls = list(Poll.objects.filter(session=session).order_by("opened_at", "id"))
    named = [poll.pk for poll in polls if not poll.is_anonymous]
    responses = [
        NamedResponse(*row)
        for row in PollResponse.objects.filter(poll_id__in=named).values_list(
            "poll_id",
            "user_id",
            "table_id",
            "is_correct",
            "change_count",
            "time_to_first_ms",
            "answered_at",
        )
    ]
    start, end = session.started_at, session.ended_at or timezone.now()
    attendance: dict[int, list[tuple[datetime, datetime]]] = {}
    if start is not None:
        for user_id, joined, left, seen in Attendance.objects.filter(session=session).values_list(
            "user_id", "joined_at", "left_at", "last_seen_at"
        ):
            begin, finish = max(joined, start), min(left or seen or end, end)
            if finish > begin:
                attendance.setdefault(user_id, []).append((begin, finish))
    return SessionActivity(
        session=session,
        learner_ids=learner_ids,
        seats=dict(
            Seat.objects.filter(course_id=session.course_id).values_list("user_id", "table_id")
        ),
        polls=polls,
        responses=responses,
        ballot_user_ids=set(
            PollBallot.objects.filter(poll__session=session).values_list("user_id", flat=True)
        ),
        attendance=attendance,
        chatted=set(
            ChatMessage.objects.filter(session=session, author__isnull=False).values_list(
                "author_id", flat=True
            )
        ),
        asked=set(
            Question.objects.filter(session=session, author__isnull=False).values_list(
                "author_id", flat=True
            )
        ),
        reacted=set(
            Participant.objects.filter(session=session)
            .filter(~Q(reaction_counts={}) | Q(last_reacted_at__isnull=False))
            .values_list("user_id", flat=True)
        ),
    )


def poll_correct_counts(*, poll_ids: list[int]) -> dict[int, tuple[int, int]]:
    """poll id -> (answers, right answers) as graded live, one query."""
    rows = (
        PollResponse.objects.filter(poll_id__in=poll_ids)
        .values("poll_id")
        .annotate(answered=Count("id"), correct=Count("id", filter=Q(is_correct=True)))
        .values_list("poll_id", "answered", "correct")
    )
    return {poll_id: (answered, correct) for poll_id, answered, correct in rows}


def poll_answer_times_ms(*, poll_id: int) -> list[int]:
    """Each named answer's time to answer (ms) of one poll."""
    return list(
        PollResponse.objects.filter(
            poll_id=poll_id, poll__is_anonymous=False, time_to_first_ms__isnull=False
        ).values_list("time_to_first_ms", flat=True)
    )


def next_session_get(*, course_id: int, after: datetime) -> LiveSession | None:
    """The course's next scheduled session starting after `after`."""
    return (
        LiveSession.objects.filter(
            course_id=course_id, state=SessionState.SCHEDULED, scheduled_start__gt=after
        )
        .order_by("scheduled_start", "id")
        .first()
    )


# --- Polls ---------------------------------------------------------------------------


def poll_public_payload(poll) -> dict:
    """What anyone in the session may know of a poll: never the correct answer
    before publication."""
    definition = {
        key: value
        for key, value in poll.definition.items()
        if key in ("options", "scale", "max_choices")
    }
    return {
        "id": poll.pk,
        "source_question_id": poll.source_question_id,
        "kind": poll.kind,
        "prompt": poll.prompt,
        "definition": definition,
        "points": poll.points,
        "quiz": poll.is_quiz,
        "anonymous": poll.is_anonymous,
        "scope": poll.scope,
        "allow_change": poll.allow_change,
        "show_live_results": poll.show_live_results,
        "state": poll.state,
        "opened_at": poll.opened_at,
        "closes_at": poll.closes_at,
        "closed_at": poll.closed_at,
        "published": poll.published_at is not None,
    }


def poll_correct_payload(poll) -> dict:
    definition = poll.definition
    if "correct" in definition:
        return {"options": definition["correct"]}
    if "accepted" in definition:
        return {"accepted": definition["accepted"]}
    if definition.get("correct_value") is not None:
        return {"value": definition["correct_value"], "tolerance": definition.get("tolerance", 0)}
    return {}


def _mean(values: list, digits: int) -> float | None:
    """The mean, or None when there is none or it is not a finite number
    (frames and API answers are strict JSON: no NaN or Infinity). Each value
    is divided first, so large answers cannot overflow the sum."""
    if not values:
        return None
    mean = math.fsum(value / len(values) for value in values)
    return round(mean, digits) if math.isfinite(mean) else None


def poll_results_get(*, poll, for_staff: bool) -> dict:
    """Distribution, per-table breakdown, counts and rate; for staff also who
    has not answered (never for anonymous polls) and who was right (quiz)."""
    # A real cycle: the services import classroom.events, which imports this module.
    from classroom.services.polls import normalise_text

    responses = list(PollResponse.objects.filter(poll=poll))
    present = set(
        Attendance.objects.filter(session_id=poll.session_id, left_at__isnull=True).values_list(
            "user_id", flat=True
        )
    )

    learners_present = set(
        Enrollment.objects.filter(
            course_id=poll.session.course_id, role=Role.LEARNER, is_active=True, user_id__in=present
        ).values_list("user_id", flat=True)
    )

    def distribution(items) -> dict:
        counts: dict[str, int] = {}
        if poll.kind in (PollKind.SHORT_TEXT,):
            labels: dict[str, str] = {}
            for response in items:
                key = normalise_text(response.answer["text"])
                counts[key] = counts.get(key, 0) + 1
                labels.setdefault(key, response.answer["text"])
            ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
            return {
                "groups": [
                    {"text": labels[key], "normalised": key, "count": n} for key, n in ranked[:50]
                ]
            }
        if poll.kind in (PollKind.RATING,):
            # int(): polls stored before the scale had to be an int may say 5.0.
            counts = {str(v): 0 for v in range(1, int(poll.definition["scale"]) + 1)}
            values = [response.answer["value"] for response in items]
            for value in values:
                counts[str(value)] = counts.get(str(value), 0) + 1
            return {"counts": counts, "mean": _mean(values, 2)}
        if poll.kind == PollKind.NUMERIC:
            values = sorted(response.answer["value"] for response in items)
            median = values[len(values) // 2] if values else None
            return {
                "values": values[:500],
                "median": median,
                "mean": _mean(values, 3),
            }
        counts = {option["id"]: 0 for option in poll.definition["options"]}
        for response in items:
            for option in response.answer.get("options") or [response.answer.get("option")]:
                counts[option] = counts.get(option, 0) + 1
        return {"counts": counts}

    result = {
        "poll_id": poll.pk,
        "responses": len(responses),
        "present": len(learners_present),
        "rate": round(len(responses) / len(learners_present), 3)
        if learners_present and poll.scope != PollScope.ONE_PER_TABLE
        else None,
        "distribution": distribution(responses),
    }
    if poll.is_quiz and (for_staff or poll.published_at is not None):
        # Not in public live tallies: with changeable answers a learner could
        # find the correct answer by watching this count move.
        result["correct_count"] = sum(1 for response in responses if response.is_correct)
    if poll.scope != PollScope.CLASS:
        by_table: dict[int, list] = {}
        for response in responses:
            by_table.setdefault(response.table_id, []).append(response)
        result["tables"] = {
            str(table_id): {"responses": len(items), "distribution": distribution(items)}
            for table_id, items in by_table.items()
        }
    if for_staff and not poll.is_anonymous:
        answered = {response.user_id for response in responses if response.user_id}
        if poll.scope == PollScope.ONE_PER_TABLE:
            answered_tables = {response.table_id for response in responses}
            answered = set(
                Seat.objects.filter(table_id__in=answered_tables).values_list("user_id", flat=True)
            )
        result["not_answered"] = sorted(learners_present - answered)
        if poll.is_quiz:
            result["right"] = sorted(r.user_id for r in responses if r.is_correct and r.user_id)
    if poll.published_at is not None or for_staff:
        result["correct"] = poll_correct_payload(poll) if poll.is_quiz else None
    return result


def poll_list_for_snapshot(
    *, session_id: int, user, is_staff: bool, table_id: int | None
) -> list[dict]:
    """Polls of the session with my own answer (and, once published, the results)."""
    # A real cycle: the services import classroom.events, which imports this module.
    from classroom.services.polls import voter_key

    polls = list(
        Poll.objects.filter(session_id=session_id)
        .select_related("session__course")
        .order_by("opened_at", "id")
    )
    payload = []
    for poll in polls:
        item = poll_public_payload(poll)
        key = (
            voter_key(poll_id=poll.pk, table_id=table_id)
            if poll.scope == PollScope.ONE_PER_TABLE and table_id is not None
            else voter_key(poll_id=poll.pk, user_id=user.pk)
        )
        if poll.is_anonymous:
            # Nothing links an anonymous answer to its learner: only the
            # ballot says that they answered (docs/polls.md).
            mine = None
            item["answered"] = PollBallot.objects.filter(poll=poll, user=user).exists()
        else:
            mine = PollResponse.objects.filter(poll=poll, voter_key=key).first()
            item["answered"] = mine is not None
        item["my_answer"] = mine.answer if mine else None
        if poll.published_at is not None:
            item["results"] = poll_results_get(poll=poll, for_staff=False)
            item["my_correct"] = mine.is_correct if mine else None
        if is_staff:
            item["results"] = poll_results_get(poll=poll, for_staff=True)
        payload.append(item)
    return payload


# --- Seating page ---------------------------------------------------------------------


def course_learner_list(*, course: Course) -> list[User]:
    """The course's active learners (the only people ever seated), by name."""
    users = User.objects.filter(
        enrollments__course=course,
        enrollments__role=Role.LEARNER,
        enrollments__is_active=True,
    )
    return sorted(users, key=lambda user: (user.name.casefold(), user.pk))


@dataclass
class SeatingPage:
    """Tables with their members, the active learners, who is unseated."""

    course: Course
    tables: list[dict[str, Any]]
    learners: list[User]
    unseated: list[User]
    live_session: LiveSession | None
    table_of: dict[int, dict[str, Any]] = field(default_factory=dict)

    @property
    def seated_count(self) -> int:
        return len(self.learners) - len(self.unseated)


def seating_page_get(*, course: Course) -> SeatingPage:
    tables = seat_map_get(course_id=course.pk)
    learners = course_learner_list(course=course)
    learner_ids = {learner.pk for learner in learners}
    table_of: dict[int, dict[str, Any]] = {}
    for table in tables:
        table["count"] = len(table["members"])
        table["is_full"] = table["count"] >= table["capacity"]
        for member in table["members"]:
            # A seat kept by someone who is no longer an active learner.
            member["is_learner"] = member["id"] in learner_ids
            table_of[member["id"]] = table
    live = next((session for session in live_session_list(course=course) if session.is_live), None)
    return SeatingPage(
        course=course,
        tables=tables,
        learners=learners,
        unseated=[learner for learner in learners if learner.pk not in table_of],
        live_session=live,
        table_of=table_of,
    )


def session_transcript_get(*, access) -> list[dict]:
    """The session's chat, read-only, as this user could see it live: staff
    every channel; learners and observers the class channel, their table's
    and what they wrote themselves. Removed messages keep their place
    without author or text. Each channel is one list, oldest first."""

    messages = ChatMessage.objects.filter(session_id=access.session.pk).select_related(
        "author", "table"
    )
    if not access.is_staff:
        messages = messages.filter(
            Q(channel=ChatChannel.CLASS)
            | Q(channel=ChatChannel.TABLE, table_id=access.table_id)
            | Q(channel=ChatChannel.TABLE, author=access.user)
        )
    channels: dict[tuple[str, int | None], dict] = {}
    for message in messages.order_by("created_at", "id"):
        key = (message.channel, message.table_id)
        if key not in channels:
            label = ChatChannel(message.channel).label
            if message.channel == ChatChannel.TABLE and message.table is not None:
                label = f"{label}: {message.table.name}"
            channels[key] = {"channel": message.channel, "label": label, "messages": []}
        channels[key]["messages"].append(message)
    order = {ChatChannel.CLASS: 0, ChatChannel.TABLE: 1, ChatChannel.STAFF: 2}
    return sorted(channels.values(), key=lambda c: (order[c["channel"]], c["label"]))
