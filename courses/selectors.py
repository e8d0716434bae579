from __future__ import annotations

from django.db.models import Case, Count, IntegerField, OuterRef, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce

from courses.models import Course, Enrollment, Role, User

ROLE_ORDER = Case(
    When(role=Role.INSTRUCTOR, then=Value(0)),
    When(role=Role.TA, then=Value(1)),
    When(role=Role.LEARNER, then=Value(2)),
    default=Value(3),
    output_field=IntegerField(),
)


def course_list_all(*, limit: int = 200) -> list[Course]:
    """Every course (a platform admin's overview), with the number of active
    learners as `learner_count`; the first `limit` by code and term."""
    learners = (
        Enrollment.objects.filter(course=OuterRef("pk"), role=Role.LEARNER, is_active=True)
        .order_by()
        .values("course")
        .annotate(total=Count("pk"))
        .values("total")
    )
    return list(
        Course.objects.annotate(
            learner_count=Coalesce(Subquery(learners, output_field=IntegerField()), 0)
        ).order_by("code", "term")[:limit]
    )


def course_list_for_user(*, user: User) -> QuerySet[Course]:
    """Courses the user is actively enrolled in, with their role annotated
    as `viewer_role` and the number of active learners as `learner_count`."""
    role = Enrollment.objects.filter(course=OuterRef("pk"), user=user, is_active=True).values(
        "role"
    )[:1]
    learners = (
        Enrollment.objects.filter(course=OuterRef("pk"), role=Role.LEARNER, is_active=True)
        .order_by()
        .values("course")
        .annotate(total=Count("pk"))
        .values("total")
    )
    return (
        Course.objects.filter(enrollments__user=user, enrollments__is_active=True)
        .annotate(
            viewer_role=Subquery(role),
            learner_count=Coalesce(Subquery(learners, output_field=IntegerField()), 0),
        )
        .order_by("code", "term")
    )


def course_roster_list(*, course: Course) -> QuerySet[Enrollment]:
    """Active members, staff first, then by name."""
    return (
        Enrollment.objects.filter(course=course, is_active=True)
        .select_related("user")
        .annotate(role_rank=ROLE_ORDER)
        .order_by("role_rank", "user__display_name", "user__username")
    )
