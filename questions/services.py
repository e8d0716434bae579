"""The course question bank."""

from __future__ import annotations

from django.utils.translation import gettext as _

from questions.grading import PROMPT_MAX, definition_clean, invalid_field, points_clean
from questions.models import BankQuestion


def bank_question_create(
    *, course, actor, kind: str, prompt: str, definition: dict, points: int = 1
) -> BankQuestion:
    prompt = (prompt or "").strip()
    if not prompt or len(prompt) > PROMPT_MAX:
        raise invalid_field("prompt", _("A question has 1 to 500 characters."))
    points = points_clean(points)
    clean = definition_clean(kind=kind, definition=definition)
    return BankQuestion.objects.create(
        course=course, kind=kind, prompt=prompt, definition=clean, points=points, created_by=actor
    )
