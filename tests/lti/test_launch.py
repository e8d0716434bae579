"""Launches driven through the strict platform: login → platform auth → launch."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from classroom.models import Seat
from classroom.services.seating import table_create
from courses.models import Course, Enrollment, Role
from lti.models import LoginState, LtiContext, LtiIdentity, LtiResourceLink
from tests.factories import LiveSessionFactory
from tests.lti.conftest import INSTRUCTOR, LEARNER, login, platform_auth, run_launch
from tests.lti.platform import LTI, auth_url_query

User = get_user_model()
pytestmark = pytest.mark.django_db

MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
INSTITUTION = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#"


def _instructor_launch(client, platform, **claims_kw):
    claims = platform.base_claims(sub="teacher-1", roles=[INSTRUCTOR], **claims_kw)
    response, _ = run_launch(client, platform, claims)
    return response


def test_login_redirects_to_platform_with_every_oidc_parameter(client, platform, registration):
    hint = platform.plan(platform.base_claims())
    for method in ("get", "post"):
        response = login(client, platform, hint, method=method)
        assert response.status_code == 302
        query = auth_url_query(response["Location"])
        assert response["Location"].startswith(platform.auth_url + "?")
        assert query["response_mode"] == "form_post"
        assert query["prompt"] == "none"
        assert query["scope"] == "openid"
        assert query["response_type"] == "id_token"
        assert query["client_id"] == platform.client_id
        assert query["login_hint"] == hint
        assert query["lti_message_hint"] == "msg-" + hint
        assert query["redirect_uri"] == "http://testserver/lti/launch/"
        state = LoginState.objects.get(state=query["state"])
        assert state.nonce == query["nonce"]
        cookie = response.cookies["lti_state_" + query["state"]]
        assert cookie["samesite"] == "None; Partitioned"
        assert cookie["secure"] and cookie["httponly"]


def test_instructor_first_launch_creates_course_and_lands_on_it(client, platform, registration):
    response = _instructor_launch(client, platform)
    context = LtiContext.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/courses/{context.course_id}/"
    assert context.course.title == "Biology 101"
    assert context.memberships_url == platform.url + "/nrps/ctx-1"
    assert context.lineitems_url == platform.url + "/ags/ctx-1/lineitems"
    user = LtiIdentity.objects.get(sub="teacher-1").user
    assert user.display_name == "Ada Lovelace" and user.email == "teacher-1@lms.example"
    assert Enrollment.objects.get(user=user).role == Role.INSTRUCTOR
    assert LtiResourceLink.objects.get().resource_link_id == "link-1"
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert "frame-ancestors 'self' " + platform.url in page["Content-Security-Policy"]
    assert "X-Frame-Options" not in page
    assert page.cookies["csrftoken"]["samesite"] == "None; Partitioned"
    assert page.cookies["csrftoken"]["secure"]
    # Someone else's pages keep the defaults.
    from django.test import Client

    from tests.factories import UserFactory

    other = Client()
    other.force_login(UserFactory())
    home = other.get("/")
    assert home["X-Frame-Options"] == "DENY" and "Content-Security-Policy" not in home


def test_learner_launch_enrols_and_logs_in(client, platform, registration):
    from django.test import Client

    _instructor_launch(Client(), platform)
    response, _ = run_launch(client, platform, platform.base_claims(sub="student-1"))
    assert response.status_code == 302
    user = LtiIdentity.objects.get(sub="student-1").user
    enrollment = Enrollment.objects.get(user=user)
    assert enrollment.role == Role.LEARNER
    assert response["Location"] == f"/courses/{enrollment.course_id}/"
    assert client.get(response["Location"]).status_code == 200
    session_cookie = response.cookies["sessionid"]
    assert session_cookie["samesite"] == "None; Partitioned" and session_cookie["secure"]


def test_learner_before_any_instructor_launch_is_refused(client, platform, registration):
    response, _ = run_launch(client, platform, platform.base_claims(sub="student-1"))
    assert response.status_code == 403
    assert b"lti_course_not_set_up" in response.content
    assert not User.objects.exists() and not Course.objects.exists()


def test_new_learner_is_seated_when_the_course_has_tables(client, platform, registration):
    from django.test import Client

    _instructor_launch(Client(), platform)
    course = LtiContext.objects.get().course
    table = table_create(course=course, name="Table A", actor=None)
    run_launch(client, platform, platform.base_claims(sub="student-9"))
    user = LtiIdentity.objects.get(sub="student-9").user
    assert Seat.objects.get(user=user).table == table


def test_privacy_restricted_launch_gets_generated_names(client, platform, registration):
    claims = platform.base_claims(sub="anon-1", roles=[INSTRUCTOR])
    for name in ("name", "given_name", "family_name", "email"):
        claims.pop(name)
    response, _ = run_launch(client, platform, claims)
    assert response.status_code == 302
    user = LtiIdentity.objects.get(sub="anon-1").user
    assert user.username.startswith("lti-") and user.email == ""
    assert user.display_name.startswith("LMS user ")


def test_email_of_an_existing_account_is_not_linked(client, platform, registration):
    from tests.factories import UserFactory

    existing = UserFactory(email="teacher-1@lms.example")
    _instructor_launch(client, platform)
    user = LtiIdentity.objects.get(sub="teacher-1").user
    assert user != existing and user.email == ""


def test_same_sub_on_a_second_launch_is_the_same_user(client, platform, registration):
    _instructor_launch(client, platform)
    client.logout()
    _instructor_launch(client, platform)
    assert User.objects.count() == 1 and LtiIdentity.objects.count() == 1


def test_a_later_launch_carries_a_changed_name_and_email(client, platform, registration):
    from tests.factories import UserFactory

    _instructor_launch(client, platform)
    client.logout()
    UserFactory(email="taken@lms.example")
    claims = platform.base_claims(sub="teacher-1", roles=[INSTRUCTOR])
    claims.update(given_name="Augusta", family_name="King", email="ada@new.example")
    assert run_launch(client, platform, claims)[0].status_code == 302
    user = LtiIdentity.objects.get(sub="teacher-1").user
    assert (user.display_name, user.email) == ("Augusta King", "ada@new.example")
    client.logout()
    claims = platform.base_claims(sub="teacher-1", roles=[INSTRUCTOR])
    claims.update(email="taken@lms.example")  # another account's: never taken over
    claims.pop("given_name"), claims.pop("family_name"), claims.pop("name")  # name withheld
    assert run_launch(client, platform, claims)[0].status_code == 302
    user.refresh_from_db()
    assert (user.display_name, user.email) == ("Augusta King", "ada@new.example")


def test_deep_linked_session_and_recording_land_there(client, platform, registration):
    _instructor_launch(client, platform)
    course = LtiContext.objects.get().course
    session = LiveSessionFactory(course=course)
    response, _ = run_launch(
        client,
        platform,
        platform.base_claims(
            sub="teacher-1",
            roles=[INSTRUCTOR],
            custom={"roundtable_session_id": str(session.pk)},
        ),
    )
    assert response["Location"] == f"/sessions/{session.pk}/live/"
    other = LiveSessionFactory()  # another course: falls back to the course page
    response, _ = run_launch(
        client,
        platform,
        platform.base_claims(
            sub="teacher-1", roles=[INSTRUCTOR], custom={"roundtable_session_id": str(other.pk)}
        ),
    )
    assert response["Location"] == f"/courses/{course.pk}/"
    # A learner's link to a running session lands in its live room (the page
    # opens the room's socket, which joins it); a recording's in its playback page.
    from django.test import Client

    from classroom.models import SessionState
    from playback.models import Recording, RecordingStatus

    session.state = SessionState.LIVE
    session.save(update_fields=["state"])
    learner = Client()
    landed, _ = run_launch(
        learner,
        platform,
        platform.base_claims(sub="student-2", custom={"roundtable_session_id": str(session.pk)}),
    )
    assert landed["Location"] == f"/sessions/{session.pk}/live/"
    room = learner.get(landed["Location"])
    assert room.status_code == 200 and f"/ws/live/{session.pk}/".encode() in room.content
    recording = Recording.objects.create(
        course=course, title="Lecture", status=RecordingStatus.READY, file="r.webm", duration_ms=1
    )
    landed, _ = run_launch(
        learner,
        platform,
        platform.base_claims(
            sub="student-2", custom={"roundtable_recording_id": str(recording.pk)}
        ),
    )
    assert landed["Location"] == f"/recordings/{recording.pk}/"
    assert learner.get(landed["Location"]).status_code == 200


def test_one_issuer_with_two_client_ids_and_several_deployments(client, platform, registration):
    """Canvas uses one issuer for every customer: a registration is (issuer,
    client id), each with its deployments; nothing crosses between them."""
    from django.test import Client

    from lti.services import deployment_add, registration_create

    other = registration_create(
        issuer=platform.issuer,
        client_id="client-B",
        auth_login_url=platform.auth_url,
        keyset_url=platform.jwks_url,
        deployment_ids=["dep-1"],
    )
    deployment_add(registration=registration, deployment_id="dep-2")
    assert run_launch(client, platform, _claims_for(platform, "a-1"))[0].status_code == 302
    platform.deployment_id = "dep-2"  # a second deployment of the same registration
    assert run_launch(Client(), platform, _claims_for(platform, "a-2"))[0].status_code == 302
    platform.client_id, platform.deployment_id = "client-B", "dep-1"
    assert run_launch(Client(), platform, _claims_for(platform, "b-1"))[0].status_code == 302
    contexts = {
        (c.deployment.registration.client_id, c.deployment.deployment_id): c.course_id
        for c in LtiContext.objects.select_related("deployment__registration")
    }
    assert set(contexts) == {
        ("tool-client-1", "dep-1"),
        ("tool-client-1", "dep-2"),
        ("client-B", "dep-1"),
    }
    assert len(set(contexts.values())) == 3  # the same context id, three LMS courses
    assert LtiIdentity.objects.get(sub="b-1").registration == other
    # A login for client-B answered with an id_token for tool-client-1 is refused.
    hint = platform.plan(_claims_for(platform, "b-2"), aud="tool-client-1")
    browser = Client()
    fields = platform_auth(login(browser, platform, hint)["Location"])
    answer = browser.post("/lti/launch/", fields)
    assert answer.status_code == 403 and b"lti_wrong_audience" in answer.content
    assert not LtiIdentity.objects.filter(sub="b-2").exists()
    # A login for an unknown client of the same issuer is refused.
    platform.client_id = "client-C"
    unknown = login(Client(), platform, platform.plan(_claims_for(platform, "c-1")))
    assert unknown.status_code == 403 and b"lti_unknown_registration" in unknown.content


def _claims_for(platform, sub):
    return platform.base_claims(sub=sub, roles=[INSTRUCTOR])


def test_platform_keys_are_cached_and_refetched_once_for_a_new_kid(client, platform, registration):
    _instructor_launch(client, platform)
    _instructor_launch(client, platform)
    assert platform.jwks_hits == 1
    # The platform rotates its key: the unknown kid triggers one refetch (once
    # the minimum refetch interval has passed).
    from datetime import timedelta

    from django.utils import timezone

    from lti.models import Registration
    from tests.lti.platform import _rsa_key

    platform.key, platform.kid = _rsa_key(), "rotated-kid"
    Registration.objects.filter(pk=registration.pk).update(
        jwks_fetched_at=timezone.now() - timedelta(seconds=60)
    )
    response = _instructor_launch(client, platform)
    assert response.status_code == 302
    assert platform.jwks_hits == 2
    # Forged kids right after that refetch: refused, and the platform is not
    # asked again (at most one refetch per 30 s per registration).
    for _ in range(2):
        hint = platform.plan(
            platform.base_claims(sub="teacher-1", roles=[INSTRUCTOR]), headers={"kid": "forged"}
        )
        fields = platform_auth(login(client, platform, hint)["Location"])
        refused = client.post("/lti/launch/", fields)
        assert refused.status_code == 400 and b"lti_unknown_kid" in refused.content
    assert platform.jwks_hits == 2
    # A cached key set older than LTI_JWKS_CACHE_SECONDS (1 hour) is fetched again.
    Registration.objects.filter(pk=registration.pk).update(
        jwks_fetched_at=timezone.now() - timedelta(hours=2)
    )
    assert _instructor_launch(client, platform).status_code == 302
    assert platform.jwks_hits == 3


# --- The ten learner and ten instructor launches of the certification suite --------------
# 1EdTech LTI Advantage certification, "Valid Student Launches" / "Valid Teacher
# Launches": the role's full launch, multiple role values, the short role value,
# an unknown role beside the real one, no role (`[""]`), only the email, only the
# names, no PII, the email without context, and names and email without context.

UNKNOWN_ROLE = "http://purl.imsglobal.org/vocab/lis/v2/uknownrole/unknown#Unknown"
NAMES = ("name", "given_name", "family_name")


def _cert_variants(role_uri: str, short: str, institution: list[str]) -> dict:
    return {
        "message": {"roles": [role_uri]},
        "multiple_roles": {"roles": [role_uri, *institution]},
        "short_role": {"roles": [short]},
        "unknown_role": {"roles": [role_uri, UNKNOWN_ROLE]},
        "no_role": {"roles": [""]},
        "only_email": {"roles": [role_uri], "drop": NAMES},
        "only_names": {"roles": [role_uri], "drop": ("email",)},
        "no_pii": {"roles": [role_uri], "drop": (*NAMES, "email")},
        "email_no_context": {"roles": [role_uri], "drop": (*NAMES, LTI + "context")},
        "names_and_email_no_context": {"roles": [role_uri], "drop": (LTI + "context",)},
    }


LEARNER_VARIANTS = _cert_variants(
    LEARNER, "Learner", [INSTITUTION + "Student", INSTITUTION + "Mentor"]
)
INSTRUCTOR_VARIANTS = _cert_variants(
    INSTRUCTOR, "Instructor", [INSTITUTION + "Faculty", INSTITUTION + "Staff"]
)


def _cert_launch(client, platform, sub: str, variant: dict):
    claims = platform.base_claims(sub=sub, roles=variant["roles"])
    for name in variant.get("drop", ()):
        claims.pop(name)
    if "name" in claims:
        claims["middle_name"] = "Augusta"  # the certification's payloads carry it
    response, _ = run_launch(client, platform, claims)
    assert response.status_code == 302, response.content[:500]
    landed = client.get(response["Location"])
    assert landed.status_code == 200
    user = LtiIdentity.objects.get(sub=sub).user
    assert client.session["_auth_user_id"] == str(user.pk)
    if "email" in claims:
        assert user.email == f"{sub}@lms.example"
    else:
        assert user.email == ""
    if "given_name" in claims:
        assert user.display_name == "Ada Lovelace"
    else:
        assert user.display_name.startswith("LMS user ")
    return response, landed, user


@pytest.mark.parametrize("variant", list(LEARNER_VARIANTS))
def test_certification_learner_launches(client, platform, registration, variant):
    from django.test import Client

    _instructor_launch(Client(), platform)  # the LMS course exists in Roundtable
    course = LtiContext.objects.get().course
    response, landed, user = _cert_launch(
        client, platform, f"s-{variant}", LEARNER_VARIANTS[variant]
    )
    if variant.endswith("no_context"):
        # Signed in, no course joined, home page with a readable notice.
        assert response["Location"] == "/"
        assert b"outside a course" in landed.content
        assert not Enrollment.objects.filter(user=user).exists()
    else:
        assert response["Location"] == f"/courses/{course.pk}/"
        assert Enrollment.objects.get(user=user).role == Role.LEARNER


@pytest.mark.parametrize("variant", list(INSTRUCTOR_VARIANTS))
def test_certification_instructor_launches(client, platform, registration, variant):
    if variant == "no_role":
        # No role claims no privilege: the launch works, as the least
        # privileged participant, in the course an instructor set up.
        from django.test import Client

        _instructor_launch(Client(), platform)
    response, landed, user = _cert_launch(
        client, platform, f"t-{variant}", INSTRUCTOR_VARIANTS[variant]
    )
    if variant.endswith("no_context"):
        assert response["Location"] == "/"
        assert b"outside a course" in landed.content
        assert not Course.objects.exists() and not LtiContext.objects.exists()
    else:
        course = LtiContext.objects.get().course
        assert response["Location"] == f"/courses/{course.pk}/"
        expected = Role.LEARNER if variant == "no_role" else Role.INSTRUCTOR
        assert Enrollment.objects.get(user=user, course=course).role == expected


# Other role forms platforms send (LTI 1.1 URNs, sub-roles, institution-only,
# system roles): read by lti.roles.role_map.
ROLE_FORMS = {
    "lti11_urn_learner": (["urn:lti:role:ims/lis/Learner"], Role.LEARNER),
    "learner_sub_role": (
        ["http://purl.imsglobal.org/vocab/lis/v2/membership/Learner#Learner"],
        Role.LEARNER,
    ),
    "institution_student_only": ([INSTITUTION + "Student"], Role.LEARNER),
    "only_unknown": (["http://example.org/roles#Wizard"], Role.LEARNER),
    "no_roles_at_all": ([], Role.LEARNER),
    "learner_and_guest": (
        [LEARNER, "http://purl.imsglobal.org/vocab/lis/v2/system/person#Guest"],
        Role.LEARNER,
    ),
    "mentor_is_observer": ([MEMBERSHIP + "Mentor"], Role.OBSERVER),
    "institution_faculty_only": ([INSTITUTION + "Faculty"], Role.INSTRUCTOR),
    "administrator": ([MEMBERSHIP + "Administrator"], Role.INSTRUCTOR),
    "lti11_urn_instructor": (["urn:lti:role:ims/lis/Instructor"], Role.INSTRUCTOR),
    "instructor_and_learner": ([INSTRUCTOR, LEARNER], Role.INSTRUCTOR),
    "teaching_assistant_sub_role": (
        ["http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"],
        Role.TA,
    ),
    "content_developer": ([MEMBERSHIP + "ContentDeveloper"], Role.TA),
    "system_administrator": (
        ["http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator"],
        Role.INSTRUCTOR,
    ),
    "context_role_beats_institution": ([INSTITUTION + "Faculty", LEARNER], Role.LEARNER),
}


@pytest.mark.parametrize("form", list(ROLE_FORMS))
def test_role_forms_are_mapped(form):
    from lti.roles import role_map

    roles, expected = ROLE_FORMS[form]
    assert role_map(roles) == expected


def test_instructor_links_the_lms_course_to_a_course_they_teach(client, platform, registration):
    from tests.factories import CourseFactory, EnrollmentFactory

    _instructor_launch(client, platform)
    user = LtiIdentity.objects.get(sub="teacher-1").user
    existing = CourseFactory(title="My running course")
    EnrollmentFactory(user=user, course=existing, role=Role.INSTRUCTOR)
    foreign = CourseFactory()
    # A second LMS course: the first launch offers the choice.
    response, _ = run_launch(
        client,
        platform,
        platform.base_claims(sub="teacher-1", roles=[INSTRUCTOR], context_id="ctx-2"),
    )
    context = LtiContext.objects.get(context_id="ctx-2")
    assert response["Location"] == f"/lti/contexts/{context.pk}/link/"
    page = client.get(response["Location"])
    assert b"My running course" in page.content
    assert client.post(response["Location"], {"course": foreign.pk}).status_code == 400
    linked = client.post(response["Location"], {"course": existing.pk})
    assert linked["Location"] == f"/courses/{existing.pk}/"
    context.refresh_from_db()
    assert context.course == existing
    # Learners of that LMS course now land in the linked course.
    from django.test import Client

    learner = Client()
    landed, _ = run_launch(
        learner, platform, platform.base_claims(sub="student-5", context_id="ctx-2")
    )
    assert landed["Location"] == f"/courses/{existing.pk}/"
    # Someone who is not its instructor cannot see the page.
    assert learner.get(response["Location"]).status_code == 404


def test_odd_claim_types_never_break_a_launch(client, platform, registration):
    """Optional claims of the wrong type are ignored, not a 500."""
    claims = platform.base_claims(sub="teacher-odd", roles=[INSTRUCTOR, 7, None])
    claims.update(
        {
            "email": "not-an-email",
            "given_name": 123,
            "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice": "x",
            "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint": {
                "scope": "abc",
                "lineitem": 5,
            },
            "https://purl.imsglobal.org/spec/lti/claim/launch_presentation": "x",
            "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings": "x",
        }
    )
    claims["https://purl.imsglobal.org/spec/lti/claim/context"]["id"] = 42
    response, _ = run_launch(client, platform, claims)
    assert response.status_code == 302
    user = LtiIdentity.objects.get(sub="teacher-odd").user
    assert user.email == ""
    context = LtiContext.objects.get()
    assert context.context_id == "42" and context.memberships_url == ""
    assert context.ags_scopes == [] and LtiResourceLink.objects.get().lineitem_url == ""
