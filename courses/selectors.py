from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from courses.models import Course, Enrollment, Role, User


def course_list_for_user(*, user: User) -> QuerySet[Course]:
    """Courses the user is actively enrolled in, with their role annotated
    as `viewer_role` and the number of active learners as `learner_count`."""
    from django.db.models import OuterRef, Subquery

    role = Enrollment.objects.filter(course=OuterRef("pk"), user=user, is_active=True).values(
        "role"
    )[:1]
    return (
        Course.objects.filter(enrollments__user=user, enrollments__is_active=True)
        .annotate(
            viewer_role=Subquery(role),
            learner_count=Count(
                "enrollments",
                filter=Q(enrollments__role=Role.LEARNER, enrollments__is_active=True),
                distinct=True,
            ),
        )
        .order_by("code", "term")
    )


def course_roster_list(*, course: Course) -> QuerySet[Enrollment]:
    return (
        Enrollment.objects.filter(course=course, is_active=True)
        .select_related("user")
        .order_by("role", "user__display_name", "user__username")
    )
