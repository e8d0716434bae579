from __future__ import annotations

import zoneinfo

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from core.models import TimestampedModel


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("%(value)s is not a known time zone."), params={"value": value})


class User(AbstractUser):
    """A person: instructor in one course, learner in another. Roles live on
    Enrollment, never on the user."""

    display_name = models.CharField(_("display name"), max_length=150, blank=True)
    email = models.EmailField(_("email address"), blank=True)
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="UTC", validators=[validate_time_zone]
    )

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                condition=~models.Q(email=""),
                name="user_email_unique_ci",
                violation_error_message=_("A user with this email already exists."),
            )
        ]

    @property
    def name(self) -> str:
        return self.display_name or self.get_full_name() or self.username

    def __str__(self) -> str:
        return self.name


class Course(TimestampedModel):
    title = models.CharField(_("title"), max_length=200)
    code = models.CharField(_("code"), max_length=50, help_text=_("Short code, e.g. BIO-101."))
    term = models.CharField(_("term"), max_length=50, blank=True, help_text=_("e.g. Fall 2026."))
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="UTC", validators=[validate_time_zone]
    )

    class Meta:
        verbose_name = _("course")
        verbose_name_plural = _("courses")
        ordering = ["code", "term"]
        constraints = [
            models.UniqueConstraint(fields=["code", "term"], name="course_code_term_unique")
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.term}: {self.title}".replace("  ", " ")


class Role(models.TextChoices):
    INSTRUCTOR = "instructor", _("Instructor")
    TA = "ta", _("Teaching assistant")
    LEARNER = "learner", _("Learner")
    OBSERVER = "observer", _("Observer")


STAFF_ROLES = frozenset({Role.INSTRUCTOR, Role.TA})


class Enrollment(TimestampedModel):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="enrollments")
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="enrollments")
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.LEARNER)
    # Dropped users are deactivated, not deleted: their history stays.
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("enrollment")
        verbose_name_plural = _("enrollments")
        constraints = [
            models.UniqueConstraint(fields=["user", "course"], name="enrollment_user_course_unique")
        ]
        indexes = [models.Index(fields=["course", "role"], name="enrollment_course_role_idx")]

    def __str__(self) -> str:
        return f"{self.user} in {self.course.code} ({self.get_role_display()})"
