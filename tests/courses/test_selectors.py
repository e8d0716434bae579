"""courses/selectors.py: a user's courses with role and learner count, and
the roster order."""

from __future__ import annotations

import pytest

from courses.models import Role
from courses.selectors import course_list_for_user, course_roster_list
from tests.factories import CourseFactory, EnrollmentFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_my_courses_carry_my_role_and_their_active_learners():
    me = UserFactory()
    taught = CourseFactory(code="B-200")
    studied = CourseFactory(code="A-100")
    left = CourseFactory(code="C-300")
    EnrollmentFactory(user=me, course=taught, role=Role.INSTRUCTOR)
    EnrollmentFactory(user=me, course=studied, role=Role.LEARNER)
    EnrollmentFactory(user=me, course=left, role=Role.LEARNER, is_active=False)
    EnrollmentFactory.create_batch(3, course=taught, role=Role.LEARNER)
    EnrollmentFactory(course=taught, role=Role.LEARNER, is_active=False)
    EnrollmentFactory(course=taught, role=Role.TA)
    rows = [(c.code, c.viewer_role, c.learner_count) for c in course_list_for_user(user=me)]
    assert rows == [("A-100", Role.LEARNER, 1), ("B-200", Role.INSTRUCTOR, 3)]


def test_a_course_without_learners_counts_zero_not_none():
    me = UserFactory()
    EnrollmentFactory(user=me, course=CourseFactory(), role=Role.INSTRUCTOR)
    [course] = course_list_for_user(user=me)
    assert course.learner_count == 0


def test_the_roster_lists_staff_first_then_by_name():
    course = CourseFactory()
    for name, role in (
        ("Zoe", Role.LEARNER),
        ("Adam", Role.LEARNER),
        ("Tina", Role.TA),
        ("Ivan", Role.INSTRUCTOR),
        ("Olga", Role.OBSERVER),
    ):
        EnrollmentFactory(course=course, role=role, user__display_name=name)
    EnrollmentFactory(course=course, role=Role.LEARNER, is_active=False, user__display_name="Gone")
    names = [e.user.display_name for e in course_roster_list(course=course)]
    assert names == ["Ivan", "Tina", "Adam", "Zoe", "Olga"]
