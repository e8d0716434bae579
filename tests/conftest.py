from __future__ import annotations

import os
import shutil

import pytest

from courses.models import Role
from tests.factories import CourseFactory, EnrollmentFactory, LiveSessionFactory, UserFactory

# In CI every service is present: a test that would skip for a missing one
# must fail instead (.ci/run sets this).
REQUIRE_SERVICES = os.environ.get("ROUNDTABLE_REQUIRE_SERVICES") == "1"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def require(condition: bool, reason: str) -> None:
    """Skip with a visible reason where the environment lacks a service;
    fail where it must be present (CI)."""
    if condition:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"required service missing in CI: {reason}")
    pytest.skip(reason)


def require_redis() -> str:
    url = os.environ.get("REDIS_URL", "")
    require(bool(url), "REDIS_URL is not set: needs a real Redis")
    return url


def require_chromium() -> str:
    require(
        os.path.exists(CHROMIUM) or bool(shutil.which("chromium")), f"no Chromium at {CHROMIUM}"
    )
    return CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")


@pytest.fixture(autouse=True)
def _isolated_realtime_state():
    """Frame buffers, coalescing claims and rate-limit counters outlive a test's
    database rollback; start every test without them."""
    from django.core.cache import cache

    from core import realtime

    realtime.reset_for_tests()
    redis_url = os.environ.get("REDIS_URL")
    if redis_url:
        import redis

        client = redis.Redis.from_url(redis_url)
        keys = list(client.scan_iter("roundtable:*"))
        if keys:
            client.delete(*keys)
    else:
        cache.clear()
    yield


@pytest.fixture
def course(db):
    return CourseFactory()


@pytest.fixture
def other_course(db):
    return CourseFactory()


def _member(course, role):
    return EnrollmentFactory(course=course, role=role).user


@pytest.fixture
def instructor(course):
    return _member(course, Role.INSTRUCTOR)


@pytest.fixture
def ta(course):
    return _member(course, Role.TA)


@pytest.fixture
def learner(course):
    return _member(course, Role.LEARNER)


@pytest.fixture
def observer(course):
    return _member(course, Role.OBSERVER)


@pytest.fixture
def outsider(other_course):
    return _member(other_course, Role.INSTRUCTOR)


@pytest.fixture
def platform_admin(db):
    return UserFactory(is_staff=True, is_superuser=True)


@pytest.fixture
def live_session(course):
    return LiveSessionFactory(course=course)
