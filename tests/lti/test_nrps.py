"""NRPS roster sync against the strict platform: paging in several Link styles,
differences, roles, seating, deactivation, token caching, 401/5xx/429 handling."""

from __future__ import annotations

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from classroom.models import Seat, Table
from courses.models import Enrollment, Role
from lti.client import ServiceError, service_request
from lti.models import LtiContext, LtiIdentity, RosterSync, ServiceToken
from lti.nrps import MEMBERSHIP_MEDIA_TYPE, link_header_parse, roster_sync
from tests.factories import CourseFactory
from tests.lti.platform import SCOPES

LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
TA = "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"
MENTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Mentor"


@pytest.fixture
def tool_jwks(live_server, platform):
    platform.tool_jwks_url = live_server.url + "/lti/jwks/"
    return platform.tool_jwks_url


@pytest.fixture
def context(registration, platform, tool_jwks):
    return LtiContext.objects.create(
        deployment=registration.deployments.get(),
        context_id="ctx-1",
        course=CourseFactory(),
        memberships_url=platform.url + "/nrps/ctx-1",
        lineitems_url=platform.url + "/ags/ctx-1/lineitems",
        ags_scopes=SCOPES[1:],
    )


def _member(n: int, roles=None, **extra) -> dict:
    return {
        "user_id": f"u{n}",
        "roles": roles or [LEARNER],
        "name": f"Learner {n}",
        "given_name": "Learner",
        "family_name": str(n),
        "email": f"u{n}@lms.example",
        **extra,
    }


def _fill(platform, count: int, start: int = 0) -> None:
    for n in range(start, start + count):
        platform.member_put("ctx-1", _member(n))


def _active(course) -> dict[str, str]:
    rows = Enrollment.objects.filter(course=course, is_active=True).values_list(
        "user__lti_identities__sub", "role"
    )
    return dict(rows)


def test_link_header_styles():
    base = "https://lms.example/nrps/1?offset=0"
    assert link_header_parse('<https://lms.example/p2>; rel="next"', base) == {
        "next": "https://lms.example/p2"
    }
    assert link_header_parse("<https://lms.example/p2>; rel=next", base)["next"].endswith("/p2")
    assert link_header_parse('</nrps/1?offset=50>; rel="next"', base)["next"] == (
        "https://lms.example/nrps/1?offset=50"
    )
    assert link_header_parse("<p3>;rel=next", base)["next"] == "https://lms.example/nrps/p3"
    both = link_header_parse(
        '<https://lms.example/a>; rel="prev", <https://lms.example/b>; rel="next last",'
        ' <https://lms.example/d?since=4>; title="x"; rel="differences"',
        base,
    )
    assert both == {
        "prev": "https://lms.example/a",
        "next": "https://lms.example/b",
        "last": "https://lms.example/b",
        "differences": "https://lms.example/d?since=4",
    }
    assert link_header_parse("", base) == {} and link_header_parse("garbage", base) == {}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("style", ["quoted", "bare", "relative", "combined"])
def test_sync_follows_every_page(platform, context, style):
    platform.link_style, platform.page_size = style, 7
    _fill(platform, 30)
    platform.member_put("ctx-1", _member(100, roles=[INSTRUCTOR]))
    record = roster_sync(context=context, trigger="staff")
    assert record.status == RosterSync.Status.OK, record.errors
    assert record.pages == 5 and record.members == 31 and record.added == 31
    active = _active(context.course)
    assert len(active) == 31 and active["u100"] == Role.INSTRUCTOR
    assert record.differences_url.startswith(platform.url + "/nrps/ctx-1?since=")
    nrps_gets = [e for e in platform.service_log if e[1].startswith("/nrps/")]
    assert len(nrps_gets) == 5 and all(status == 200 for _, _, status in nrps_gets)
    assert not platform.errors


@pytest.mark.django_db(transaction=True)
def test_roles_are_mapped_and_changed(platform, context):
    platform.member_put("ctx-1", _member(1, roles=[TA]))
    platform.member_put("ctx-1", _member(2, roles=[MENTOR]))
    platform.member_put("ctx-1", _member(3, roles=["urn:lti:role:ims/lis/Instructor"]))
    platform.member_put("ctx-1", _member(4, roles=["http://example.com/custom#Whatever"]))
    roster_sync(context=context, trigger="staff", full=True)
    assert _active(context.course) == {
        "u1": Role.TA,
        "u2": Role.OBSERVER,
        "u3": Role.INSTRUCTOR,
        "u4": Role.LEARNER,
    }
    platform.member_put("ctx-1", _member(4, roles=[INSTRUCTOR]))
    record = roster_sync(context=context, trigger="staff", full=True)
    assert (record.added, record.updated, record.deactivated) == (0, 1, 0)
    assert _active(context.course)["u4"] == Role.INSTRUCTOR


@pytest.mark.django_db(transaction=True)
def test_left_members_deactivated_never_deleted_and_differences_used(platform, context):
    _fill(platform, 5)
    first = roster_sync(context=context, trigger="staff")
    assert first.added == 5 and not first.incremental
    platform.member_remove("ctx-1", "u1")
    platform.member_put("ctx-1", _member(2, name="Renamed Two", given_name="", family_name=""))
    platform.member_put("ctx-1", _member(9))
    second = roster_sync(context=context, trigger="nightly")
    # The differences link of the first sync: only the three changed members.
    assert second.incremental and second.source_url == first.differences_url
    assert second.members == 3, second.errors
    assert (second.added, second.updated, second.deactivated) == (1, 1, 1)
    gone = Enrollment.objects.get(course=context.course, user__lti_identities__sub="u1")
    assert gone.is_active is False  # kept, inactive
    assert LtiIdentity.objects.filter(sub="u1").exists()
    assert LtiIdentity.objects.get(sub="u2").user.display_name == "Renamed Two"
    assert set(_active(context.course)) == {"u0", "u2", "u3", "u4", "u9"}
    # A full sync also deactivates members missing from the roster.
    platform.offer_differences = False
    platform.rosters["ctx-1"].pop("u3")  # gone without a change-log entry
    third = roster_sync(context=context, trigger="staff", full=True)
    assert third.deactivated == 1 and "u3" not in _active(context.course)
    # Coming back reactivates the same enrolment.
    platform.member_put("ctx-1", _member(1))
    fourth = roster_sync(context=context, trigger="staff", full=True)
    assert fourth.updated == 1 and "u1" in _active(context.course)
    assert (
        Enrollment.objects.filter(course=context.course, user__lti_identities__sub="u1").count()
        == 1
    )


@pytest.mark.django_db(transaction=True)
def test_new_learners_are_seated(platform, context):
    course = context.course
    for position in range(2):
        Table.objects.create(course=course, name=f"T{position}", capacity=4, position=position)
    _fill(platform, 6)
    platform.member_put("ctx-1", _member(50, roles=[INSTRUCTOR]))
    record = roster_sync(context=context, trigger="staff")
    assert record.seated == 6
    seats = Seat.objects.filter(course=course)
    assert seats.count() == 6 and not seats.filter(user__lti_identities__sub="u50").exists()
    assert seats.filter(table__name="T0").count() == 3  # auto_fill balances the tables


@pytest.mark.django_db(transaction=True)
def test_one_token_for_many_calls_and_refresh_on_401(platform, context):
    platform.page_size = 5
    _fill(platform, 40)
    roster_sync(context=context, trigger="staff")
    roster_sync(context=context, trigger="staff", full=True)
    assert len(platform.tokens_issued) == 1  # 16 pages, one token
    assert ServiceToken.objects.count() == 1
    platform.fault("/nrps/", 401)  # the platform revokes the token
    record = roster_sync(context=context, trigger="staff", full=True)
    assert record.status == RosterSync.Status.OK and len(platform.tokens_issued) == 2
    statuses = [s for _, path, s in platform.service_log if path.startswith("/nrps/")]
    assert 401 in statuses
    # A second 401 in a row is not retried forever: a readable failure.
    platform.fault("/nrps/", 401)
    platform.fault("/nrps/", 401)
    failed = roster_sync(context=context, trigger="staff", full=True)
    assert failed.status == RosterSync.Status.FAILED and "401" in failed.errors[0]


@pytest.mark.django_db(transaction=True)
def test_expired_token_is_renewed(platform, context, settings):
    platform.token_lifetime = 61  # cached until 1 s before expiry: expires at once
    _fill(platform, 3)
    roster_sync(context=context, trigger="staff")
    time.sleep(1.1)
    roster_sync(context=context, trigger="staff", full=True)
    assert len(platform.tokens_issued) == 2


@pytest.mark.django_db(transaction=True)
def test_429_retry_after_and_500_are_retried(platform, context, settings):
    settings.LTI_SERVICE_BACKOFF = 0.05
    _fill(platform, 3)
    platform.fault("/nrps/", 429, **{"Retry-After": "1"})
    platform.fault("/nrps/", 500)
    started = time.monotonic()
    record = roster_sync(context=context, trigger="staff")
    elapsed = time.monotonic() - started
    assert record.status == RosterSync.Status.OK and record.added == 3
    assert elapsed >= 1.0  # Retry-After was respected
    statuses = [s for _, path, s in platform.service_log if path.startswith("/nrps/")]
    assert statuses == [429, 500, 200]


@pytest.mark.django_db(transaction=True)
def test_persistent_5xx_gives_up_readably(platform, context, settings):
    settings.LTI_SERVICE_BACKOFF = 0.01
    settings.LTI_SERVICE_RETRIES = 2
    _fill(platform, 3)
    for _ in range(3):
        platform.fault("/nrps/", 503)
    record = roster_sync(context=context, trigger="staff")
    assert record.status == RosterSync.Status.FAILED and "503" in record.errors[0]
    assert not Enrollment.objects.filter(course=context.course).exists()


@pytest.mark.django_db(transaction=True)
def test_platform_checks_accept_and_scope(platform, context, registration):
    """The platform refuses a wrong Accept header and a token without the NRPS scope."""
    _fill(platform, 1)
    with pytest.raises(ServiceError) as error:
        service_request(
            registration=registration,
            scopes=[SCOPES[0]],
            method="GET",
            url=context.memberships_url,
            accept="application/json",
        )
    assert error.value.http_status == 400 and "Accept" in platform.errors[-1]
    with pytest.raises(ServiceError) as error:
        service_request(
            registration=registration,
            scopes=[SCOPES[1]],
            method="GET",
            url=context.memberships_url,
            accept=MEMBERSHIP_MEDIA_TYPE,
        )
    assert error.value.http_status == 403


@pytest.mark.django_db(transaction=True)
def test_bad_members_are_skipped_and_reported(platform, context):
    _fill(platform, 2)
    platform.rosters["ctx-1"]["weird"] = {"user_id": "", "roles": "nope"}
    record = roster_sync(context=context, trigger="staff")
    assert record.status == RosterSync.Status.OK and record.added == 2
    assert record.errors and "user_id" in record.errors[0]


@pytest.mark.django_db(transaction=True)
def test_resync_queries_do_not_grow_with_the_roster(platform, context):
    platform.page_size = 50
    _fill(platform, 20)
    roster_sync(context=context, trigger="staff")
    with CaptureQueriesContext(connection) as small:
        roster_sync(context=context, trigger="staff", full=True)
    _fill(platform, 200, start=20)
    roster_sync(context=context, trigger="staff", full=True)
    with CaptureQueriesContext(connection) as big:
        roster_sync(context=context, trigger="staff", full=True)
    pages = (len(platform.rosters["ctx-1"]) + 49) // 50
    # Only the per-page token lookups grow (one cached-token read per page).
    assert len(big.captured_queries) - len(small.captured_queries) <= pages


@pytest.mark.django_db(transaction=True)
def test_no_memberships_url_is_a_readable_refusal(context):
    from lti.errors import LtiError

    context.memberships_url = ""
    with pytest.raises(LtiError) as error:
        roster_sync(context=context, trigger="staff")
    assert error.value.status_code == 409 and error.value.code == "lti_no_nrps"


@pytest.mark.django_db(transaction=True)
def test_refused_differences_link_falls_back_to_the_full_roster(platform, context):
    _fill(platform, 4)
    first = roster_sync(context=context, trigger="staff")
    assert first.differences_url
    platform.fault("/nrps/ctx-1?since", 410)  # gone
    platform.rosters["ctx-1"].pop("u0")
    second = roster_sync(context=context, trigger="nightly")
    assert second.status == RosterSync.Status.OK and not second.incremental
    assert second.deactivated == 1 and second.members == 3


@pytest.mark.django_db(transaction=True)
def test_existing_email_is_not_linked_and_username_clash_is_not_a_crash(platform, context):
    import hashlib

    from tests.factories import UserFactory

    owner = UserFactory(email="Taken@LMS.example")
    # A user named as a member's generated username, whose identity is gone.
    digest = hashlib.sha256(f"{platform.issuer}\nu2".encode()).hexdigest()[:12]
    UserFactory(username=f"lti-{digest}")
    platform.member_put("ctx-1", _member(1, email="taken@lms.example"))
    platform.member_put("ctx-1", _member(2))
    record = roster_sync(context=context, trigger="staff")
    assert record.status == RosterSync.Status.OK and record.added == 2, record.errors
    new = LtiIdentity.objects.get(sub="u1").user
    assert new != owner and new.email == ""
    assert LtiIdentity.objects.get(sub="u2").user.username.startswith(f"lti-{digest}-")
