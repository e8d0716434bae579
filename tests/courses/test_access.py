from __future__ import annotations

import pytest

from core.errors import NotAuthenticatedError, NotFoundError, PermissionDeniedError
from courses.access import CourseAction, access_course, course_role_get
from courses.models import Enrollment, Role
from courses.services import enrollment_deactivate
from tests.factories import EnrollmentFactory, UserFactory

pytestmark = pytest.mark.django_db

EXPECTED = {
    # role: (view, participate, teach, manage)
    "instructor": (True, True, True, True),
    "ta": (True, True, True, False),
    "learner": (True, True, False, False),
    "observer": (True, False, False, False),
}
ACTIONS = [CourseAction.VIEW, CourseAction.PARTICIPATE, CourseAction.TEACH, CourseAction.MANAGE]


@pytest.mark.parametrize("role", list(EXPECTED))
def test_each_role_gets_exactly_its_actions(request, course, role):
    user = request.getfixturevalue(role)
    for action, allowed in zip(ACTIONS, EXPECTED[role], strict=True):
        if allowed:
            access = access_course(user=user, course_id=course.pk, action=action)
            assert access.course == course
            assert access.role == role
        else:
            with pytest.raises(PermissionDeniedError) as error:
                access_course(user=user, course_id=course.pk, action=action)
            assert error.value.code == "role_forbidden"


@pytest.mark.parametrize("action", ACTIONS)
def test_member_of_another_course_is_told_not_found(course, outsider, action):
    with pytest.raises(NotFoundError) as error:
        access_course(user=outsider, course_id=course.pk, action=action)
    assert error.value.code == "course_not_found"


def test_unknown_course_and_unknown_member_get_the_same_answer(course, outsider):
    with pytest.raises(NotFoundError) as missing:
        access_course(user=outsider, course_id=course.pk + 999)
    with pytest.raises(NotFoundError) as foreign:
        access_course(user=outsider, course_id=course.pk)
    assert missing.value.as_dict() == foreign.value.as_dict()


def test_anonymous_user_must_log_in(course):
    from django.contrib.auth.models import AnonymousUser

    with pytest.raises(NotAuthenticatedError):
        access_course(user=AnonymousUser(), course_id=course.pk)


def test_dropped_learner_loses_access(course, learner):
    enrollment_deactivate(user=learner, course=course)
    assert course_role_get(user=learner, course=course) is None
    with pytest.raises(NotFoundError):
        access_course(user=learner, course_id=course.pk)


def test_platform_admin_may_do_everything_without_enrolment(course, platform_admin):
    for action in ACTIONS:
        access = access_course(user=platform_admin, course_id=course.pk, action=action)
        assert access.role is None
        assert access.is_staff
    assert not Enrollment.objects.filter(user=platform_admin).exists()


def test_access_flags_describe_the_role(course, ta, observer, learner):
    assert access_course(user=ta, course_id=course.pk).is_staff
    assert access_course(user=observer, course_id=course.pk).is_observer
    learner_access = access_course(user=learner, course_id=course.pk)
    assert learner_access.is_learner and not learner_access.is_staff


def test_role_in_one_course_does_not_leak_to_another(course, other_course):
    user = UserFactory()
    EnrollmentFactory(user=user, course=course, role=Role.INSTRUCTOR)
    EnrollmentFactory(user=user, course=other_course, role=Role.LEARNER)
    access_course(user=user, course_id=course.pk, action=CourseAction.MANAGE)
    with pytest.raises(PermissionDeniedError):
        access_course(user=user, course_id=other_course.pk, action=CourseAction.TEACH)
