"""Hands, podium, reactions, away, timers, announcements and help flags."""

from __future__ import annotations

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from analytics.services import event_record
from classroom import events, hooks
from classroom.models import (
    PODIUM_SPEAKERS_MAX,
    Announcement,
    Attendance,
    HandRaise,
    HelpFlag,
    LiveSession,
    Participant,
    PodiumSpeaker,
    Seat,
    Timer,
)
from classroom.services import ephemeral
from classroom.services.common import require_live, session_lock
from core.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from courses.models import Enrollment, Role

REACTIONS = ("thumbs_up", "thumbs_down", "clap", "laugh", "confused", "slower", "faster")
REACTION_LIMIT = (10, 5)  # at most 10 reactions per 5 seconds per user
ANNOUNCEMENT_MAX_LENGTH = 1000
TIMER_MAX_SECONDS = 4 * 3600


def _record(
    session: LiveSession, actor, verb: str, object_type: str, object_id="", **fields
) -> None:
    event_record(
        actor=actor,
        verb=verb,
        object_type=object_type,
        object_id=object_id,
        course_id=session.course_id,
        live_session_id=session.pk,
        **fields,
    )


# --- Hands ------------------------------------------------------------------------------


def hand_queue_get(session_id: int) -> list[dict]:
    hands = HandRaise.objects.filter(session_id=session_id, lowered_at__isnull=True).select_related(
        "user"
    )
    return [
        {"user": events.user_payload(hand.user), "raised_at": hand.raised_at, "position": index}
        for index, hand in enumerate(hands.order_by("raised_at", "id"), start=1)
    ]


def hand_raise(*, session_id: int, user) -> None:
    with transaction.atomic():
        session = session_lock(session_id)
        require_live(session)
        try:
            with transaction.atomic():
                HandRaise.objects.create(session=session, user=user)
        except IntegrityError:
            raise ConflictError(
                _("Your hand is already raised."), code="hand_already_raised"
            ) from None
        events.hands_changed(session, hand_queue_get(session.pk))
        _record(session, user, "raised_hand", "live_session", session.pk)


def hand_lower(*, session_id: int, actor, user_id: int, actor_is_staff: bool) -> None:
    """Learners lower their own hand; staff lower anyone's."""
    if user_id != actor.pk and not actor_is_staff:
        raise PermissionDeniedError(_("You can only lower your own hand."), code="forbidden")
    with transaction.atomic():
        session = session_lock(session_id)
        lowered = HandRaise.objects.filter(
            session=session, user_id=user_id, lowered_at__isnull=True
        ).update(lowered_at=timezone.now(), lowered_by=actor)
        if not lowered:
            raise ConflictError(_("That hand is not raised."), code="hand_not_raised")
        events.hands_changed(session, hand_queue_get(session.pk))
        _record(session, actor, "lowered_hand", "user", user_id)


def hands_lower_all(*, session_id: int, actor) -> int:
    with transaction.atomic():
        session = session_lock(session_id)
        lowered = HandRaise.objects.filter(session=session, lowered_at__isnull=True).update(
            lowered_at=timezone.now(), lowered_by=actor
        )
        if lowered:
            events.hands_changed(session, [])
            _record(
                session,
                actor,
                "lowered_all_hands",
                "live_session",
                session.pk,
                extensions={"count": lowered},
            )
    return lowered


# --- Podium -----------------------------------------------------------------------------


def podium_get(session_id: int) -> list[dict]:
    speakers = PodiumSpeaker.objects.filter(
        session_id=session_id, removed_at__isnull=True
    ).select_related("user")
    return [{"user": events.user_payload(s.user), "invited_at": s.invited_at} for s in speakers]


def podium_invite(*, session_id: int, actor, user_id: int) -> None:
    """Bring a learner or TA onto the podium (usually from the hand queue; their
    hand is lowered). At most PODIUM_SPEAKERS_MAX besides the instructor."""
    with transaction.atomic():
        session = session_lock(session_id)
        require_live(session)
        role = (
            Enrollment.objects.filter(course_id=session.course_id, user_id=user_id, is_active=True)
            .values_list("role", flat=True)
            .first()
        )
        if role not in (Role.LEARNER, Role.TA):
            raise NotFoundError(
                _("Only learners and TAs of this course can be invited."), code="user_not_found"
            )
        if not Attendance.objects.filter(
            session=session, user_id=user_id, left_at__isnull=True
        ).exists():
            raise ConflictError(_("This person is not in the session."), code="user_not_present")
        current = PodiumSpeaker.objects.filter(session=session, removed_at__isnull=True)
        if current.filter(user_id=user_id).exists():
            raise ConflictError(_("Already on the podium."), code="already_on_podium")
        if current.count() >= PODIUM_SPEAKERS_MAX:
            raise ConflictError(
                _("The podium is full (%(max)d speakers).") % {"max": PODIUM_SPEAKERS_MAX},
                code="podium_full",
            )
        PodiumSpeaker.objects.create(session=session, user_id=user_id, invited_by=actor)
        had_hand = HandRaise.objects.filter(
            session=session, user_id=user_id, lowered_at__isnull=True
        ).update(lowered_at=timezone.now(), lowered_by=actor)
        events.podium_changed(session, podium_get(session.pk))
        hooks.mode_applied(session_id=session.pk)  # podium speakers are heard by all
        if had_hand:
            events.hands_changed(session, hand_queue_get(session.pk))
        _record(session, actor, "invited_to_podium", "user", user_id)


def podium_remove(*, session_id: int, actor, user_id: int, actor_is_staff: bool) -> None:
    if user_id != actor.pk and not actor_is_staff:
        raise PermissionDeniedError(
            _("Only staff can remove someone else from the podium."), code="forbidden"
        )
    with transaction.atomic():
        session = session_lock(session_id)
        removed = PodiumSpeaker.objects.filter(
            session=session, user_id=user_id, removed_at__isnull=True
        ).update(removed_at=timezone.now())
        if not removed:
            raise ConflictError(_("Not on the podium."), code="not_on_podium")
        events.podium_changed(session, podium_get(session.pk))
        hooks.mode_applied(session_id=session.pk)
        _record(session, actor, "removed_from_podium", "user", user_id)


# --- Reactions and away -----------------------------------------------------------------


def away_set(*, session_id: int, user, away: bool, table_id: int | None) -> None:
    with transaction.atomic():
        ephemeral.presence_changed(session_id)
        session = session_lock(session_id)
        participant, _created = Participant.objects.get_or_create(session=session, user=user)
        if participant.is_away == bool(away):
            return
        participant.is_away = bool(away)
        participant.save(update_fields=["is_away"])
        events.away_changed(session, user.pk, table_id, participant.is_away)
        _record(session, user, "set_away" if away else "returned", "live_session", session.pk)


# --- Timers -----------------------------------------------------------------------------


def timers_active(session_id: int) -> list[Timer]:
    return list(
        Timer.objects.filter(
            session_id=session_id, stopped_at__isnull=True, ends_at__gt=timezone.now()
        )
    )


def timer_start(
    *, session_id: int, actor, label: str, seconds: int, warning_seconds: int = 30
) -> Timer:
    label = (label or "").strip()
    errors = {}
    if not label or len(label) > 120:
        errors["label"] = _("A label of 1 to 120 characters is required.")
    if not isinstance(seconds, int) or not 5 <= seconds <= TIMER_MAX_SECONDS:
        errors["seconds"] = _("A timer runs from 5 seconds to 4 hours.")
    if not isinstance(warning_seconds, int) or warning_seconds < 0:
        errors["warning_seconds"] = _("The warning must be zero or more seconds.")
    if errors:
        raise ValidationError(details=errors)
    with transaction.atomic():
        session = session_lock(session_id)
        require_live(session)
        now = timezone.now()
        timer = Timer.objects.create(
            session=session,
            label=label,
            started_at=now,
            ends_at=now + timedelta(seconds=seconds),
            warning_seconds=min(warning_seconds, seconds),
            created_by=actor,
        )
        events.timers_changed(session, timers_active(session.pk))
        _record(
            session,
            actor,
            "started_timer",
            "timer",
            timer.pk,
            duration_ms=seconds * 1000,
            extensions={"label": label},
        )
    return timer


def timer_adjust(*, session_id: int, actor, timer_id: int, delta_seconds: int) -> Timer:
    """Extend (positive) or shorten (negative); shortening past now ends it."""
    if (
        not isinstance(delta_seconds, int)
        or delta_seconds == 0
        or abs(delta_seconds) > TIMER_MAX_SECONDS
    ):
        raise ValidationError(details={"delta_seconds": _("Give a non-zero number of seconds.")})
    with transaction.atomic():
        session = session_lock(session_id)
        timer = Timer.objects.filter(pk=timer_id, session=session, stopped_at__isnull=True).first()
        if timer is None:
            raise NotFoundError(_("No such running timer."), code="timer_not_found")
        now = timezone.now()
        timer.ends_at = max(now, timer.ends_at + timedelta(seconds=delta_seconds))
        if timer.ends_at <= now:
            timer.stopped_at = now
        timer.save(update_fields=["ends_at", "stopped_at"])
        events.timers_changed(session, timers_active(session.pk))
        _record(
            session,
            actor,
            "adjusted_timer",
            "timer",
            timer.pk,
            extensions={"delta_seconds": delta_seconds},
        )
    return timer


def timer_stop(*, session_id: int, actor, timer_id: int) -> None:
    with transaction.atomic():
        session = session_lock(session_id)
        stopped = Timer.objects.filter(
            pk=timer_id, session=session, stopped_at__isnull=True
        ).update(stopped_at=timezone.now())
        if not stopped:
            raise NotFoundError(_("No such running timer."), code="timer_not_found")
        events.timers_changed(session, timers_active(session.pk))
        _record(session, actor, "stopped_timer", "timer", timer_id)


# --- Announcements and help -------------------------------------------------------------


def announcement_send(*, session_id: int, actor, body: str) -> Announcement:
    body = (body or "").strip()
    if not body or len(body) > ANNOUNCEMENT_MAX_LENGTH:
        raise ValidationError(
            details={
                "body": _("An announcement has 1 to %(max)d characters.")
                % {"max": ANNOUNCEMENT_MAX_LENGTH}
            }
        )
    with transaction.atomic():
        session = session_lock(session_id)
        require_live(session)
        announcement = Announcement.objects.create(session=session, author=actor, body=body)
        events.announcement_posted(session, announcement)
        _record(session, actor, "announced", "announcement", announcement.pk, response=body)
    return announcement


def help_queue_get(session_id: int) -> list[HelpFlag]:
    return list(
        HelpFlag.objects.filter(session_id=session_id, resolved_at__isnull=True).select_related(
            "table", "raised_by"
        )
    )


def help_flag(*, session_id: int, user) -> HelpFlag:
    with transaction.atomic():
        session = session_lock(session_id)
        require_live(session)
        table_id = (
            Seat.objects.filter(course_id=session.course_id, user=user)
            .values_list("table_id", flat=True)
            .first()
        )
        if table_id is None:
            raise ConflictError(_("You are not seated at a table."), code="not_seated")
        try:
            with transaction.atomic():
                flag = HelpFlag.objects.create(session=session, table_id=table_id, raised_by=user)
        except IntegrityError:
            raise ConflictError(
                _("Your table already asked for help."), code="help_already_requested"
            ) from None
        events.help_changed(session, table_id, help_queue_get(session.pk))
        _record(session, user, "requested_help", "table", table_id)
    return flag


def help_resolve(*, session_id: int, actor, table_id: int) -> None:
    with transaction.atomic():
        session = session_lock(session_id)
        resolved = HelpFlag.objects.filter(
            session=session, table_id=table_id, resolved_at__isnull=True
        ).update(resolved_at=timezone.now(), resolved_by=actor)
        if not resolved:
            raise NotFoundError(_("This table has no open help request."), code="help_not_found")
        events.help_changed(session, table_id, help_queue_get(session.pk))
        _record(session, actor, "resolved_help", "table", table_id)
