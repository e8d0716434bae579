"""A course's reinforcement settings (instructors)."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction

from core.errors import ValidationError
from reinforcement.models import ReinforcementSettings

FIELDS = (
    "is_enabled",
    "hold_minutes",
    "desired_retention",
    "participation_talk_seconds",
    "warmup_size",
    "deadline_enabled",
    "course_ends_on",
)


def course_settings_update(*, course, actor, changes: dict[str, Any]) -> ReinforcementSettings:
    """Change some settings; each value is validated by the model's field
    validators (retention 0.80-0.95, hold up to a week, warm-up up to 50)."""
    unknown = sorted(set(changes) - set(FIELDS))
    if unknown:
        raise ValidationError(
            "Unknown settings: " + ", ".join(unknown) + ".",
            details=dict.fromkeys(unknown, "Unknown field."),
        )
    with transaction.atomic():
        conf, _created = ReinforcementSettings.objects.select_for_update().get_or_create(
            course=course
        )
        for name, value in changes.items():
            if name == "course_ends_on" and value is not None and not isinstance(value, date):
                raise ValidationError("A date is needed.", details={name: "a date (YYYY-MM-DD)"})
            setattr(conf, name, value)
        try:
            conf.full_clean(exclude=["course", "updated_by"])
        except DjangoValidationError as error:
            details = {field: " ".join(messages) for field, messages in error.message_dict.items()}
            raise ValidationError(
                "Some settings are not valid: "
                + "; ".join(f"{k}: {v}" for k, v in details.items()),
                details=details,
            ) from error
        conf.updated_by = actor
        conf.save()
    return conf
