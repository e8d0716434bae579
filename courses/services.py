"""Every write to users, courses and enrolments (also used by lti/)."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
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
    first_name: str = "",
    last_name: str = "",
) -> User:
    user = User(
        username=username,
        email=email.strip(),
        display_name=display_name,
        time_zone=time_zone,
        first_name=first_name,
        last_name=last_name,
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


USER_UPDATABLE_FIELDS = ("username", "email", "first_name", "last_name", "display_name")


def user_update(*, user: User, **fields: str) -> list[str]:
    """Change some of a user's names and email (USER_UPDATABLE_FIELDS).
    Returns the fields that changed; saves nothing when none did."""
    unknown = set(fields) - set(USER_UPDATABLE_FIELDS)
    if unknown:
        raise ValueError(f"user_update cannot set {sorted(unknown)}")
    if "email" in fields:
        fields["email"] = fields["email"].strip()
    changed = [name for name, value in fields.items() if getattr(user, name) != value]
    if not changed:
        return []
    for name in changed:
        setattr(user, name, fields[name])
    _full_clean(user, exclude=["password"])
    try:
        with transaction.atomic():
            user.save(update_fields=changed)
    except IntegrityError as error:
        raise ConflictError(_("A user with this username or email already exists.")) from error
    return changed


def course_create(*, title: str, code: str, term: str = "", time_zone: str = "UTC") -> Course:
    course = Course(title=title.strip(), code=code.strip(), term=term.strip(), time_zone=time_zone)
    _full_clean(course)
    try:
        with transaction.atomic():
            course.save()
    except IntegrityError as error:
        raise ConflictError(_("A course with this code and term already exists.")) from error
    return course


def course_update(
    *, course: Course, title: str | None = None, code: str | None = None, term: str | None = None
) -> list[str]:
    """Change a course's title, code and/or term. Returns the fields that changed."""
    wanted = {"title": title, "code": code, "term": term}
    fields = {name: value.strip() for name, value in wanted.items() if value is not None}
    changed = [name for name, value in fields.items() if getattr(course, name) != value]
    if not changed:
        return []
    for name in changed:
        setattr(course, name, fields[name])
    _full_clean(course)
    try:
        with transaction.atomic():
            course.save(update_fields=[*changed, "updated_at"])
    except IntegrityError as error:
        raise ConflictError(_("A course with this code and term already exists.")) from error
    return changed


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


def enrollment_sync(
    *,
    course: Course,
    roles: dict[int, str],
    deactivate: set[int],
    actor: User | None = None,
) -> dict[str, list[int]]:
    """Bring many enrolments of one course in line with a roster, in a few
    queries whatever its size: `roles` (user id → role) are enrolled (created,
    reactivated or role changed), `deactivate` lose their active enrolment
    (never deleted). Unchanged enrolments are not written. Records the same
    `enrolled`/`unenrolled` events as enrollment_set/enrollment_deactivate.
    Returns {"created", "updated", "deactivated"} user ids. Caller holds the
    transaction (roster syncs and imports apply atomically)."""
    from analytics.models import LearningEvent

    bad = {role for role in roles.values() if role not in Role.values}
    if bad:
        raise ValidationError(_("Unknown role %(role)s.") % {"role": sorted(bad)[0]})
    wanted_ids = set(roles) | set(deactivate)
    stored = {
        e.user_id: e
        for e in Enrollment.objects.select_for_update().filter(
            course=course, user_id__in=wanted_ids
        )
    }
    created, updated, deactivated = [], [], []
    new_rows, changed_rows = [], []
    for user_id, role in roles.items():
        enrollment = stored.get(user_id)
        if enrollment is None:
            new_rows.append(Enrollment(user_id=user_id, course=course, role=role))
            created.append(user_id)
        elif enrollment.role != role or not enrollment.is_active:
            enrollment.role, enrollment.is_active = role, True
            changed_rows.append(enrollment)
            updated.append(user_id)
    for user_id in deactivate - set(roles):
        enrollment = stored.get(user_id)
        if enrollment is not None and enrollment.is_active:
            enrollment.is_active = False
            changed_rows.append(enrollment)
            deactivated.append(user_id)
    now = timezone.now()
    for row in changed_rows:
        row.updated_at = now
    Enrollment.objects.bulk_create(new_rows, batch_size=500)
    Enrollment.objects.bulk_update(
        changed_rows, ["role", "is_active", "updated_at"], batch_size=500
    )
    events = [
        LearningEvent(
            occurred_at=now,
            actor=actor,
            verb="enrolled",
            object_type="user",
            object_id=str(user_id),
            course_id=course.pk,
            extensions={"role": roles[user_id]},
        )
        for user_id in (*created, *updated)
    ] + [
        LearningEvent(
            occurred_at=now,
            actor=actor,
            verb="unenrolled",
            object_type="user",
            object_id=str(user_id),
            course_id=course.pk,
            extensions={},
        )
        for user_id in deactivated
    ]
    LearningEvent.objects.bulk_create(events, batch_size=500)
    return {"created": created, "updated": updated, "deactivated": deactivated}
