from __future__ import annotations

import pytest

from analytics.models import LearningEvent
from core.errors import ConflictError, ValidationError
from courses.models import Enrollment, Role
from courses.services import course_create, enrollment_deactivate, enrollment_set, user_create
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_enrolling_twice_keeps_one_row_and_one_event(course):
    user = UserFactory()
    first, created = enrollment_set(user=user, course=course, role=Role.LEARNER)
    again, created_again = enrollment_set(user=user, course=course, role=Role.LEARNER)
    assert created and not created_again and first.pk == again.pk
    assert Enrollment.objects.filter(user=user, course=course).count() == 1
    assert LearningEvent.objects.filter(verb="enrolled", object_id=str(user.pk)).count() == 1


def test_role_change_and_reactivation(course):
    user = UserFactory()
    enrollment_set(user=user, course=course, role=Role.LEARNER)
    enrollment_deactivate(user=user, course=course)
    enrollment, created = enrollment_set(user=user, course=course, role=Role.TA)
    assert not created
    enrollment.refresh_from_db()
    assert (enrollment.role, enrollment.is_active) == (Role.TA, True)
    verbs = list(LearningEvent.objects.order_by("id").values_list("verb", flat=True))
    assert verbs == ["enrolled", "unenrolled", "enrolled"]


def test_unknown_role_is_refused_and_nothing_written(course):
    user = UserFactory()
    with pytest.raises(ValidationError) as error:
        enrollment_set(user=user, course=course, role="dean")
    assert error.value.code == "invalid_role"
    assert not Enrollment.objects.exists()
    assert not LearningEvent.objects.exists()


def test_user_email_is_unique_ignoring_case():
    user_create(username="ann", email="Ann@Example.test")
    with pytest.raises(ValidationError) as error:
        user_create(username="ann2", email="ann@example.test")
    assert "A user with this email already exists." in str(error.value.details)


def test_users_without_email_may_coexist():
    user_create(username="a")
    user_create(username="b")


def test_bad_time_zone_is_a_validation_error():
    with pytest.raises(ValidationError) as error:
        user_create(username="tz", time_zone="Mars/Olympus")
    assert "time_zone" in error.value.details


def test_course_code_and_term_are_unique():
    course_create(title="Bio", code="BIO-1", term="Fall")
    course_create(title="Bio", code="BIO-1", term="Spring")
    with pytest.raises((ConflictError, ValidationError)):
        course_create(title="Bio again", code="BIO-1", term="Fall")
