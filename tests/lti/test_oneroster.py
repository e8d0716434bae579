"""OneRoster CSV import: parser, mapping, dry run, errors, atomicity,
idempotence, bulk and delta, seating, the admin page and the command."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from analytics.models import LearningEvent
from classroom.models import Seat, SeatingChange, Table
from courses.models import Course, Enrollment, Role, RosterIdentity, User
from lti.oneroster.services import oneroster_import
from tests.factories import UserFactory
from tests.lti.oneroster_bundles import (
    CLASSES,
    COURSES,
    ENROLLMENTS,
    ENROLLMENTS_12,
    ORGS,
    ROLES_12,
    SESSIONS,
    USERS_11,
    USERS_12,
    bundle_zip,
    full_bundle,
    large_bundle,
    shuffle_columns,
)

pytestmark = pytest.mark.django_db
Kind = RosterIdentity.Kind

DELTA_ENROLLMENTS_HEAD = (
    "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,"
    "primary,beginDate,endDate"
)
USERS_HEAD = USERS_11.strip("\n").split("\n")[0]
ENROLLMENTS_HEAD = ENROLLMENTS.strip("\n").split("\n")[0]


def run(files=None, *, source="sis", dry_run=False, **options):
    return oneroster_import(
        data=bundle_zip(files or full_bundle(), **options), source=source, dry_run=dry_run
    )


def enrolment(username: str, code: str) -> Enrollment:
    return Enrollment.objects.get(user__username=username, course__code=code)


def stored_state() -> dict:
    return {
        "users": sorted(User.objects.values_list("username", "email", "is_active")),
        "courses": sorted(Course.objects.values_list("code", "term", "title")),
        "enrollments": sorted(
            Enrollment.objects.values_list("user__username", "course__code", "role", "is_active")
        ),
        "identities": sorted(
            RosterIdentity.objects.values_list("source", "kind", "sourced_id", "is_active")
        ),
        "seats": Seat.objects.count(),
        "tables": Table.objects.count(),
        "events": LearningEvent.objects.count(),
        "seating_changes": SeatingChange.objects.count(),
    }


def assert_first_bundle_imported() -> None:
    biology = Course.objects.get(code="BIO-101-P1")
    assert (biology.title, biology.term) == ("Biology: Period 1", "Fall 2026")
    assert Course.objects.filter(code="BIO-101-P2", term="Fall 2026").exists()
    tara = User.objects.get(username="tfrost")
    assert (tara.first_name, tara.last_name, tara.email) == (
        "Tara",
        "Frost",
        "tfrost@hillside.example",
    )
    assert not tara.has_usable_password()  # the bundle's password column is never used
    assert User.objects.get(first_name="Chen", last_name="Li").username == "chen.li"
    assert enrolment("tfrost", "BIO-101-P1").role == Role.INSTRUCTOR
    assert enrolment("aide1", "BIO-101-P1").role == Role.TA
    assert enrolment("amara", "BIO-101-P1").role == Role.LEARNER
    assert enrolment("amara", "BIO-101-P2").role == Role.LEARNER
    assert not Enrollment.objects.filter(user__username="pat").exists()  # parent: skipped


def test_a_1_1_bundle_becomes_courses_users_and_enrolments():
    report = run()
    assert report.ok and report.applied, report.errors
    assert report.version == "1.1"
    assert_first_bundle_imported()
    assert report.count("classes", "created") == 2
    assert report.count("users", "created") == 6
    assert report.count("enrollments", "created") == 6
    assert report.count("enrollments", "skipped") == 1
    skipped = [line for line in report.lines if line.action == "skipped"]
    assert [(line.file, line.line) for line in skipped] == [("enrollments.csv", 7)]
    assert "parent" in skipped[0].text
    user_identity = RosterIdentity.objects.get(source="sis", kind=Kind.USER, sourced_id="u-s1")
    assert user_identity.object_id == User.objects.get(username="amara").pk
    assert user_identity.metadata == {"house": "Red"}
    tara_identity = RosterIdentity.objects.get(kind=Kind.USER, sourced_id="u-t1")
    assert "password" not in tara_identity.attributes
    assert tara_identity.attributes["role"] == "teacher"
    class_identity = RosterIdentity.objects.get(kind=Kind.CLASS, sourced_id="class-1")
    assert class_identity.metadata == {"room": "Lab 2"}
    assert class_identity.object_id == Course.objects.get(code="BIO-101-P1").pk
    assert RosterIdentity.objects.filter(kind=Kind.ORG, sourced_id="org-1").exists()


def test_a_1_2_bundle_reads_roles_csv_and_preferred_names():
    files = full_bundle(users=USERS_12, roles=ROLES_12, enrollments=ENROLLMENTS_12)
    report = run(files, version="1.2")
    assert report.ok, report.errors
    assert report.version == "1.2"
    assert report.count("roles", "created") == 2
    amara = User.objects.get(username="amara")
    assert amara.display_name == "Mara Okafor" and amara.first_name == "Amara"
    assert enrolment("amara", "BIO-101-P1").role == Role.LEARNER
    assert enrolment("tfrost", "BIO-101-P1").role == Role.INSTRUCTOR
    role = RosterIdentity.objects.get(kind=Kind.ROLE, sourced_id="r-1")
    assert role.attributes["userSourcedId"] == "u-t1" and role.attributes["role"] == "teacher"
    assert RosterIdentity.objects.get(kind=Kind.USER, sourced_id="u-t1").attributes["pronouns"] == (
        "she/her"
    )


def test_a_roles_csv_row_naming_an_unknown_user_is_an_error():
    roles = ROLES_12 + "r-3,active,2026-08-20T10:00:00Z,u-nobody,primary,student,,,org-1,\n"
    report = run(
        full_bundle(users=USERS_12, roles=roles, enrollments=ENROLLMENTS_12), version="1.2"
    )
    assert [(e.file, e.line) for e in report.errors] == [("roles.csv", 4)]
    assert "u-nobody" in report.errors[0].message


def test_bom_and_shuffled_columns_read_the_same():
    files = {key: shuffle_columns(text, seed=len(key)) for key, text in full_bundle().items()}
    assert files["users"].split("\n")[0] != USERS_HEAD
    report = run(files, bom=True)
    assert report.ok, report.errors
    assert_first_bundle_imported()
    assert RosterIdentity.objects.get(kind=Kind.USER, sourced_id="u-s1").metadata == {
        "house": "Red"
    }


def test_a_dry_run_writes_nothing_and_reports_what_the_import_would_do():
    before = stored_state()
    dry = run(dry_run=True)
    assert dry.ok and not dry.applied
    assert stored_state() == before
    assert "Dry run" in dry.summary()
    real = run()
    assert dry.table() == real.table()
    assert [str(line) for line in dry.lines] == [str(line) for line in real.lines]
    assert dry.count("seating", "seated") == 4


def test_bad_rows_are_reported_with_file_and_line_and_nothing_is_written():
    sessions = SESSIONS + "term-2,,,Spring 2027,term,2027-01-10,2027-13-40,,2027\n"
    users = (
        USERS_11
        + "u-s4,,,maybe,org-1,student,dana,,Dana,Novak,,,,,,,,,\n"
        + "u-s1,,,true,org-1,student,amara2,,Amara,Twice,,,,,,,,,\n"
        + "u-s5,gone,,true,org-1,student,eli,,Eli,Ng,,,,,,,,,\n"
        + "u-s6,,,true,org-1,wizard,fay,,Fay,Ro,,,,,,,,,\n"
    )
    enrollments = ENROLLMENTS + "e-8,,,class-404,org-1,u-s2,student,false,,\n"
    before = stored_state()
    report = run(full_bundle(academicSessions=sessions, users=users, enrollments=enrollments))
    assert not report.ok and not report.applied
    assert [(error.file, error.line) for error in report.errors] == [
        ("academicSessions.csv", 3),
        ("users.csv", 8),
        ("users.csv", 9),
        ("users.csv", 10),
        ("users.csv", 11),
    ]
    messages = [error.message for error in report.errors]
    assert "endDate '2027-13-40' is not a date" in messages[0]
    assert "enabledUser 'maybe'" in messages[1]
    assert "duplicate sourcedId u-s1 (first on line 4)" == messages[2]
    assert "status 'gone'" in messages[3]
    assert "role 'wizard'" in messages[4]
    assert stored_state() == before

    # Once the file-level problems are fixed, the unknown reference is caught.
    report = run(full_bundle(enrollments=enrollments))
    assert [(e.file, e.line) for e in report.errors] == [("enrollments.csv", 9)]
    assert "classSourcedId class-404 is not a known class" in report.errors[0].message
    assert stored_state() == before


def test_a_missing_required_column_names_the_header_line():
    classes = CLASSES.replace(",classType,", ",kind,")
    report = run(full_bundle(classes=classes))
    assert [str(error) for error in report.errors] == [
        "classes.csv:1: missing required column(s): classType"
    ]


def test_bad_manifest_and_bad_zip_are_reported():
    assert [str(e) for e in oneroster_import(data=b"not a zip", source="sis").errors] == [
        "bundle: not a zip file"
    ]
    report = run(version="2.0")
    assert "oneroster.version '2.0'" in report.errors[0].message


def test_an_error_found_while_applying_rolls_back_every_earlier_row():
    # The last user's email belongs to an account the roster does not own:
    # found only when writing, after classes and five users were written.
    UserFactory(username="someone", email="pat@home.example")
    before = stored_state()
    report = run()
    assert [(e.file, e.line) for e in report.errors] == [("users.csv", 7)]
    assert "email" in report.errors[0].message.lower()
    assert stored_state() == before
    assert not Course.objects.exists() and not RosterIdentity.objects.exists()


def test_an_existing_account_with_the_same_username_and_email_is_linked():
    existing = UserFactory(username="Ben", email="BEN@hillside.example")
    users = USERS_11.replace(",ben,", ",Ben,")
    report = run(full_bundle(users=users))
    assert report.ok, report.errors
    identity = RosterIdentity.objects.get(kind=Kind.USER, sourced_id="u-s2")
    assert identity.object_id == existing.pk
    assert enrolment("Ben", "BIO-101-P1").role == Role.LEARNER


def test_an_existing_account_with_another_email_is_not_taken_over():
    UserFactory(username="ben", email="ben@elsewhere.example")
    report = run()
    assert [(e.file, e.line) for e in report.errors] == [("users.csv", 5)]
    assert "not imported from this source" in report.errors[0].message


def test_reimporting_the_same_bundle_changes_nothing():
    first = run()
    assert first.changes > 0
    state = stored_state()
    updated = sorted(RosterIdentity.objects.values_list("pk", "updated_at"))
    again = run()
    assert again.ok and again.changes == 0
    assert [line.action for line in again.lines] == ["skipped"]  # the parent, every time
    assert again.count("users", "unchanged") == 6
    assert again.count("enrollments", "unchanged") == 6
    assert stored_state() == state
    assert sorted(RosterIdentity.objects.values_list("pk", "updated_at")) == updated


def test_a_delta_deactivates_tobedeleted_rows_and_leaves_the_rest():
    run()
    later = "2026-09-15T08:00:00Z"
    delta = {
        "users": f"{USERS_HEAD}\nu-s3,tobedeleted,{later}" + "," * 16 + "\n",
        "classes": CLASSES.split("\n")[1] + f"\nclass-2,tobedeleted,{later},,,,,,,,,,,,\n",
        "enrollments": f"{DELTA_ENROLLMENTS_HEAD}\ne-4,tobedeleted,{later},,,,,,,\n",
    }
    report = run(delta, modes={"users": "delta", "classes": "delta", "enrollments": "delta"})
    assert report.ok, report.errors
    assert not enrolment("ben", "BIO-101-P1").is_active  # e-4
    assert not enrolment("chen.li", "BIO-101-P1").is_active  # the user is gone
    assert not enrolment("amara", "BIO-101-P2").is_active  # the class is gone
    assert enrolment("amara", "BIO-101-P1").is_active  # not in the delta: untouched
    assert enrolment("tfrost", "BIO-101-P1").is_active
    assert User.objects.filter(username="chen.li").exists()  # never deleted
    assert Course.objects.filter(code="BIO-101-P2").exists()
    assert not RosterIdentity.objects.get(kind=Kind.CLASS, sourced_id="class-2").is_active
    assert report.count("enrollments", "deactivated") == 3
    assert report.count("users", "deactivated") == 1
    assert (
        run(delta, modes={"users": "delta", "classes": "delta", "enrollments": "delta"}).changes
        == 0
    )


def test_a_delta_row_older_than_the_stored_one_is_skipped():
    delta_modes = {"enrollments": "delta"}
    newer = f"{DELTA_ENROLLMENTS_HEAD}\ne-4,tobedeleted,2026-09-15T08:00:00Z,,,,,,,\n"
    older = (
        f"{DELTA_ENROLLMENTS_HEAD}\n"
        "e-4,active,2026-09-01T08:00:00Z,class-1,org-1,u-s2,teacher,false,,\n"
    )
    run()
    run({"enrollments": newer}, modes=delta_modes)
    report = run({"enrollments": older}, modes=delta_modes)
    assert report.ok and report.count("enrollments", "skipped") == 1
    assert not enrolment("ben", "BIO-101-P1").is_active


def test_a_bulk_file_deactivates_what_it_no_longer_lists():
    run()
    users = "\n".join(line for line in USERS_11.split("\n") if not line.startswith("u-s2,"))
    enrollments = "\n".join(
        line for line in ENROLLMENTS.split("\n") if not line.startswith(("e-4,", "e-7,"))
    )
    report = run({"users": users, "enrollments": enrollments})  # the other files: absent
    assert report.ok, report.errors
    assert not enrolment("ben", "BIO-101-P1").is_active
    assert not enrolment("amara", "BIO-101-P2").is_active
    assert enrolment("amara", "BIO-101-P1").is_active
    assert not RosterIdentity.objects.get(kind=Kind.USER, sourced_id="u-s2").is_active
    assert RosterIdentity.objects.get(kind=Kind.CLASS, sourced_id="class-2").is_active  # absent
    assert report.count("enrollments", "deactivated") == 2
    # Back in the next bulk bundle: active again.
    assert run().count("enrollments", "updated") == 2
    assert enrolment("ben", "BIO-101-P1").is_active


def test_another_source_is_never_deactivated_by_a_bulk_file():
    run(source="district-a")
    run(full_bundle(users=USERS_HEAD, enrollments=ENROLLMENTS_HEAD), source="district-b")
    assert Enrollment.objects.filter(is_active=True).count() == 6


def test_new_learners_are_seated_by_the_fill_rule():
    run()
    course = Course.objects.get(code="BIO-101-P1")
    seated = set(Seat.objects.filter(course=course).values_list("user__username", flat=True))
    assert seated == {"amara", "ben", "chen.li"}  # learners only
    assert set(SeatingChange.objects.filter(course=course).values_list("method", flat=True)) == {
        SeatingChange.Method.AUTO_FILL
    }
    table = Table.objects.get(course=course)
    users = USERS_11 + "u-s9,,,true,org-1,student,dana,,Dana,Novak,,,,,,,,,\n"
    enrollments = ENROLLMENTS + "e-9,,,class-1,org-1,u-s9,student,false,,\n"
    report = run(full_bundle(users=users, enrollments=enrollments))
    assert report.count("seating", "seated") == 1
    assert Seat.objects.get(course=course, user__username="dana").table == table
    assert Table.objects.filter(course=course).count() == 1


def test_a_300_user_bundle_imports_and_reimports_idempotently():
    data = large_bundle(users=300)
    first = oneroster_import(data=data, source="big")
    assert first.ok, first.errors[:3]
    assert Enrollment.objects.filter(role=Role.LEARNER, is_active=True).count() == 300
    assert Seat.objects.count() == 300
    again = oneroster_import(data=data, source="big")
    assert again.ok and again.changes == 0


# --- the management command --------------------------------------------------------------


def test_the_command_dry_runs_imports_and_fails_on_bad_rows(tmp_path, capsys):
    path = tmp_path / "bundle.zip"
    path.write_bytes(bundle_zip(full_bundle()))
    call_command("oneroster_import", str(path), "--source", "sis", "--dry-run")
    out = capsys.readouterr().out
    assert "Dry run: 21 change(s) would be made" in out
    assert "enrollments.csv:7: skipped e-6" in out
    assert not Course.objects.exists()
    call_command("oneroster_import", str(path), "--source", "sis")
    assert "21 change(s) applied." in capsys.readouterr().out
    assert Course.objects.count() == 2
    bad = tmp_path / "bad.zip"
    bad.write_bytes(bundle_zip(full_bundle(orgs=ORGS + "org-2,,,Lowland,galaxy,,\n")))
    with pytest.raises(CommandError, match="1 error"):
        call_command("oneroster_import", str(bad), "--source", "sis")
    assert "orgs.csv:3: type 'galaxy'" in capsys.readouterr().err


# --- the admin page ------------------------------------------------------------------------

IMPORT_URL = "/admin/courses/rosteridentity/import/"


def _upload(client, data: bytes, *, dry_run: bool):
    from django.core.files.uploadedfile import SimpleUploadedFile

    form = {"bundle": SimpleUploadedFile("bundle.zip", data), "source": "sis"}
    if dry_run:
        form["dry_run"] = "on"
    return client.post(IMPORT_URL, form)


def test_a_platform_admin_uploads_a_bundle_and_reads_the_result(client, platform_admin):
    client.force_login(platform_admin)
    page = client.get(IMPORT_URL)
    assert page.status_code == 200
    assert "Import a OneRoster bundle" in page.content.decode()
    assert IMPORT_URL in client.get("/admin/courses/rosteridentity/").content.decode()
    response = _upload(client, bundle_zip(full_bundle()), dry_run=True)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Dry run: 21 change(s) would be made" in html and not Course.objects.exists()
    response = _upload(client, bundle_zip(full_bundle()), dry_run=False)
    html = response.content.decode()
    assert "21 change(s) applied." in html
    assert "enrollments.csv:7: skipped e-6: role parent has no Roundtable role" in html
    assert Course.objects.count() == 2
    assert LearningEvent.objects.filter(verb="enrolled", actor=platform_admin).count() == 6
    response = _upload(
        client, bundle_zip(full_bundle(classes=CLASSES.replace("classType", "x"))), dry_run=False
    )
    assert "classes.csv:1: missing required column(s): classType" in response.content.decode()


def test_the_upload_page_refuses_everyone_but_platform_admins(client):
    staff = UserFactory(is_staff=True, is_superuser=False)
    client.force_login(staff)
    assert client.get(IMPORT_URL).status_code == 403
    assert _upload(client, bundle_zip(full_bundle()), dry_run=False).status_code == 403
    learner = UserFactory()
    client.force_login(learner)
    response = _upload(client, bundle_zip(full_bundle()), dry_run=False)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert not Course.objects.exists() and not RosterIdentity.objects.exists()


def test_the_fixture_rows_have_as_many_fields_as_their_headers():
    # Every fixture parses on its own (guards against a typo hiding a test).
    for text in (ORGS, SESSIONS, COURSES, CLASSES, USERS_11, ENROLLMENTS):
        header = text.strip("\n").split("\n")[0].split(",")
        for line in text.strip("\n").split("\n")[1:]:
            assert len(line.split(",")) == len(header), line


def test_a_quoted_multi_line_field_is_reported_at_its_first_line():
    orgs = ORGS + 'org-2,,,"Lowland\nAnnex",galaxy,,\norg-3,,,Upland,moon,,\n'
    report = run(full_bundle(orgs=orgs))
    assert [(e.file, e.line) for e in report.errors] == [("orgs.csv", 3), ("orgs.csv", 5)]


def test_generated_usernames_never_collide():
    UserFactory(username="chen.li", email="other@example.test")
    users = USERS_11 + "u-s7,,,true,org-1,student,,,Chen,Li,,,,,,,,,\n"
    report = run(full_bundle(users=users))
    assert report.ok, report.errors
    generated = {
        RosterIdentity.objects.get(kind=Kind.USER, sourced_id=sid).object_id
        for sid in ("u-s3", "u-s7")
    }
    names = set(User.objects.filter(pk__in=generated).values_list("username", flat=True))
    assert names == {"chen.li2", "chen.li3"}
    assert run(full_bundle(users=users)).changes == 0  # kept on re-import


def test_a_class_needs_its_course_and_terms_even_when_their_files_are_absent():
    files = full_bundle()
    del files["academicSessions"]
    report = run(files)
    assert [str(e) for e in report.errors] == [
        "classes.csv:2: termSourcedIds term-1 is not a known academic session",
        "classes.csv:3: termSourcedIds term-1 is not a known academic session",
    ]
    # Once imported, a later bundle may leave the terms out.
    assert run().ok
    assert run(files).changes == 0


def test_a_tobedeleted_row_never_imported_is_skipped():
    delta = f"{DELTA_ENROLLMENTS_HEAD}\ne-99,tobedeleted,2026-09-15T08:00:00Z,,,,,,,\n"
    report = run({"enrollments": delta}, modes={"enrollments": "delta"})
    assert report.ok and report.count("enrollments", "skipped") == 1
    assert not RosterIdentity.objects.exists()


def test_a_file_that_is_not_utf8_is_reported():
    import io
    import zipfile

    original = bundle_zip(full_bundle())
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(original)) as source,
        zipfile.ZipFile(buffer, "w") as target,
    ):
        for name in source.namelist():
            data = source.read(name)
            if name == "users.csv":
                data = data.replace(b"Okafor", "Okaför".encode("latin-1"))
            target.writestr(name, data)
    report = oneroster_import(data=buffer.getvalue(), source="sis")
    assert len(report.errors) == 1
    assert str(report.errors[0]).startswith("users.csv: not UTF-8 (byte ")
    assert not RosterIdentity.objects.exists()
