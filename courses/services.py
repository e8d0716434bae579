"""Every write to users, courses and enrolments (also used by lti/)."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from analytics.services import event_record
from core.errors import ConflictError, ValidationError
from courses.models import Course, Enrollment, Role, User


def _full_clean(instance, *, exclude: list[str] | None = None) -> None:
    try:
        instance.full_clean(exclude=exclude)
    except DjangoValidationError as error:
        raise ValidationError(details=error.message_dict) from error


def user_create(
    *,
    username: str,
    email: str = "",
    password: str | None = None,
    display_name: str = "",
    time_zone: str = "UTC",
) -> User:
    user = User(
        username=username, email=email.strip(), display_name=display_name, time_zone=time_zone
    )
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    _full_clean(user, exclude=["password"])
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as error:
        raise ConflictError(_("A user with this username or email already exists.")) from error
    return user


def course_create(*, title: str, code: str, term: str = "", time_zone: str = "UTC") -> Course:
    course = Course(title=title.strip(), code=code.strip(), term=term.strip(), time_zone=time_zone)
    _full_clean(course)
    try:
        with transaction.atomic():
            course.save()
    except IntegrityError as error:
        raise ConflictError(_("A course with this code and term already exists.")) from error
    return course


def enrollment_set(
    *, user: User, course: Course, role: str, actor: User | None = None
) -> tuple[Enrollment, bool]:
    """Enrol `user` in `course` with `role`, or update the role; reactivates a
    dropped enrolment. Returns (enrollment, created)."""
    if role not in Role.values:
        raise ValidationError(_("Unknown role %(role)s.") % {"role": role}, code="invalid_role")
    with transaction.atomic():
        enrollment, created = Enrollment.objects.select_for_update().get_or_create(
            user=user, course=course, defaults={"role": role}
        )
        changed = created or enrollment.role != role or not enrollment.is_active
        if not created and changed:
            enrollment.role = role
            enrollment.is_active = True
            enrollment.save(update_fields=["role", "is_active", "updated_at"])
        if changed:
            event_record(
                actor=actor,
                verb="enrolled",
                object_type="user",
                object_id=str(user.pk),
                course=course,
                extensions={"role": role},
            )
    return enrollment, created


def enrollment_deactivate(*, user: User, course: Course, actor: User | None = None) -> None:
    with transaction.atomic():
        updated = Enrollment.objects.filter(user=user, course=course, is_active=True).update(
            is_active=False
        )
        if updated:
            event_record(
                actor=actor,
                verb="unenrolled",
                object_type="user",
                object_id=str(user.pk),
                course=course,
            )
