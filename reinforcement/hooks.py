"""reinforcement's registrations on the layers below it: the live session's
end and the recording timeline's build start the post-session planning job;
the course page links to the review page and the staff view; the LMS
gradebook reads a session's review completion."""

from __future__ import annotations

from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _

from classroom import hooks as classroom_hooks
from playback import hooks as playback_hooks
from recaps import hooks as recap_hooks
from reinforcement import notify


def _plan_on_commit(session_id: int, source: str) -> None:
    from reinforcement.tasks import followups_plan

    transaction.on_commit(lambda: followups_plan.delay(session_id, source))


def session_ended(*, session_id: int, actor) -> None:
    _plan_on_commit(session_id, "session_ended")


def timeline_built(*, recording_id: int, live_session_id: int | None) -> None:
    if live_session_id is not None:
        _plan_on_commit(live_session_id, "timeline_ready")


def recap_published(*, recap_id: int, session_id: int) -> None:
    """A recap published after the session's follow-up went out: tell the
    learners who got that follow-up (after commit)."""
    from reinforcement.services.planning import followup_recap_notify

    transaction.on_commit(lambda: followup_recap_notify(session_id=session_id))


def course_page_links(*, course, is_staff: bool) -> list[dict]:
    links = [
        {
            "label": _("Review questions"),
            "url": reverse("reinforcement-review", args=[course.pk]),
            "section": "learning",
        },
        {
            "label": _("My follow-up"),
            "url": reverse("reinforcement-followups", args=[course.pk]),
            "section": "learning",
        },
    ]
    if is_staff:
        links.append(
            {
                "label": _("Reinforcement"),
                "url": reverse("reinforcement-course", args=[course.pk]),
                "place": "head",  # a button under the title, beside Seating
            }
        )
    return links


def session_review_scores(*, session, learner_ids: set[int]) -> dict[int, float] | None:
    from reinforcement.selectors import session_review_scores as scores

    return scores(session=session, learner_ids=learner_ids)


def register() -> None:
    classroom_hooks.session_ended.register(session_ended)
    classroom_hooks.course_page_links.register(course_page_links)
    classroom_hooks.session_review_scores.register(session_review_scores)
    playback_hooks.timeline_built.register(timeline_built)
    recap_hooks.recap_published.register(recap_published)
    notify.kinds_register()
