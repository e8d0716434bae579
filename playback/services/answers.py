"""The live session's polls, answered while watching the recording.

Each member answers on their own; the answer is validated and graded on the
server with the live polls' own rules (classroom.services.polls). The correct
answer reaches a learner only in the reply to their own answer. Someone who
answered live keeps that answer (`already_answered_live`)."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from core.rooms.actions import action_claim_time_set
from playback import events
from playback.models import PlaybackAnswer, RoomState, WaitReason
from playback.selectors import (
    AnonymousAnswer,
    answered_user_ids,
    live_answer_get,
    my_answer_payload,
    recording_polls_get,
)
from playback.services.rooms import (
    participant_ids,
    present_user_ids,
    room_event_record,
    room_lock,
    room_wait_maybe_finish,
)
from questions.grading import answer_clean, answer_grade, response_text


def playback_poll_answer(
    *, room_id: int, user, may_participate: bool, table_id: int | None, poll_id: Any, answer: Any
) -> dict[str, Any]:

    if not may_participate:
        raise PermissionDeniedError(_("Observers can watch but not take part."), code="forbidden")
    if isinstance(poll_id, bool) or not isinstance(poll_id, int):
        raise ValidationError(_("'poll_id' must be an integer."), code="invalid")
    with transaction.atomic():
        room = room_lock(room_id)
        recording = room.recording
        item = next(
            (
                i
                for i in recording_polls_get(recording=recording)
                if i.poll.pk == poll_id and i.replays
            ),
            None,
        )
        if item is None:
            raise NotFoundError(_("No such poll in this recording."), code="poll_not_found")
        poll = item.poll
        if live_answer_get(poll=poll, user=user, table_id=table_id) is not None:
            raise ConflictError(_("You answered this poll live."), code="already_answered_live")
        clean = answer_clean(question=poll, answer=answer)
        is_correct, score = answer_grade(question=poll, answer=clean)
        anonymous = poll.is_anonymous
        if anonymous:
            # The claim on this frame id (PlaybackClientAction: learner, time)
            # gets the poll's opening time, not the time of answering.
            action_claim_time_set(poll.opened_at)
        try:
            with transaction.atomic():
                # An anonymous poll's answer is kept as the live one's ballot
                # is: that this learner answered, not what, and not when (the
                # poll's opening time); no learning event (docs/polls.md).
                stored = PlaybackAnswer.objects.create(
                    poll=poll,
                    user=user,
                    recording=recording,
                    room=room,
                    answer={} if anonymous else clean,
                    is_correct=None if anonymous else is_correct,
                    score=None if anonymous else score,
                    media_ms=item.offset_ms,
                    answered_at=poll.opened_at if anonymous else timezone.now(),
                )
        except IntegrityError:
            raise ConflictError(
                _("You already answered this poll."), code="already_answered"
            ) from None
        # The reply is kept with the frame id (PlaybackClientAction) and the
        # frame passes through the user's buffered stream: for an anonymous
        # poll neither holds the answer or its grade (the page knows what it
        # sent; the correct answer is the same for everyone).
        shown = AnonymousAnswer() if anonymous else stored
        payload = my_answer_payload(recording=recording, item=item, source="playback", answer=shown)
        events.poll_answered(room, user.pk, payload)
        if not anonymous:
            room_event_record(
                room,
                user,
                "answered",
                media_ms=item.offset_ms,
                object_type="poll",
                object_id=poll.pk,
                success=is_correct,
                score=score,
                response=response_text(clean),
                extensions={"kind": poll.kind, "quiz": poll.is_quiz},
            )
        if (
            room.state == RoomState.WAITING
            and room.waiting_reason == WaitReason.POLL
            and room.waiting_poll_id == poll.pk
            and not room_wait_maybe_finish(room)
        ):
            participants = participant_ids(recording, present_user_ids(room.pk))
            answered = answered_user_ids(poll=poll, user_ids=participants)
            room.waiting_ready = sorted(answered)
            room.save(update_fields=["waiting_ready", "updated_at"])
            pending = participants - answered
            # An anonymous poll's progress names nobody: a table mate would
            # see who answered and when (docs/polls.md).
            events.poll_progress(
                room,
                {
                    "poll_id": poll.pk,
                    "answered": [] if anonymous else sorted(answered),
                    "pending": [] if anonymous else sorted(pending),
                    "answered_count": len(answered),
                    "pending_count": len(pending),
                },
            )
    return payload
