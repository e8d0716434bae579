from __future__ import annotations

import functools
import zoneinfo

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from core.models import TimestampedModel


@functools.cache
def _time_zones() -> frozenset[str]:
    # available_timezones() walks the tz database on disk (about 20 ms a call).
    return frozenset(zoneinfo.available_timezones())


def validate_time_zone(value: str) -> None:
    if value not in _time_zones():
        raise ValidationError(_("%(value)s is not a known time zone."), params={"value": value})


class User(AbstractUser):
    """A person: instructor in one course, learner in another. Roles live on
    Enrollment, never on the user."""

    display_name = models.CharField(_("display name"), max_length=150, blank=True)
    email = models.EmailField(_("email address"), blank=True)
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="UTC", validators=[validate_time_zone]
    )
    # Recordings play with captions shown (transcripts: the player's <track default>).
    captions_on = models.BooleanField(_("captions on by default"), default=False)

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


class RosterIdentity(TimestampedModel):
    """One object of an external roster (a OneRoster bundle today): the pair
    (source, kind, sourced_id) and the Roundtable row it maps to. Kinds without
    a Roundtable counterpart (orgs, academic sessions, courses, roles) keep
    `object_id` null; they are stored so that later deltas can reference them
    and so that their `metadata.*` columns are kept."""

    class Kind(models.TextChoices):
        ORG = "org", _("Org")
        ACADEMIC_SESSION = "academic_session", _("Academic session")
        COURSE = "course", _("Course")
        CLASS = "class", _("Class")
        USER = "user", _("User")
        ROLE = "role", _("Role")
        ENROLLMENT = "enrollment", _("Enrollment")

    source = models.CharField(_("source"), max_length=100)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    sourced_id = models.CharField(_("sourced id"), max_length=255)
    # Course id for classes, User id for users, Enrollment id for enrollments.
    object_id = models.BigIntegerField(_("object id"), null=True, blank=True)
    # False once the source marked it tobedeleted or a bulk file left it out.
    is_active = models.BooleanField(_("active"), default=True)
    date_last_modified = models.DateTimeField(_("date last modified"), null=True, blank=True)
    # The row's own columns we have no field for (titles, codes, references).
    attributes = models.JSONField(_("attributes"), default=dict, blank=True)
    # `metadata.*` columns, keys without the prefix.
    metadata = models.JSONField(_("metadata"), default=dict, blank=True)

    class Meta:
        verbose_name = _("roster identity")
        verbose_name_plural = _("roster identities")
        constraints = [
            models.UniqueConstraint(
                fields=["source", "kind", "sourced_id"], name="roster_identity_unique"
            )
        ]
        indexes = [
            models.Index(fields=["source", "kind", "object_id"], name="roster_identity_object_idx")
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.kind} {self.sourced_id}"


class Program(TimestampedModel):
    """A group of courses (a degree, a department's offering) whose admins
    may read the analytics of every course in it (docs/analytics.md)."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    courses = models.ManyToManyField(Course, related_name="programs", blank=True)
    admins = models.ManyToManyField(User, related_name="administered_programs", blank=True)

    class Meta:
        verbose_name = _("program")
        verbose_name_plural = _("programs")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
