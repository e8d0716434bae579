from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from classroom.models import Seat, SeatingChange, Table
from classroom.services.seating import seat_move, table_create
from courses.models import Role
from tests.factories import EnrollmentFactory

pytestmark = pytest.mark.django_db


def url(course):
    return f"/courses/{course.pk}/seating/"


def make_learners(course, count):
    return [
        EnrollmentFactory(
            course=course,
            role=Role.LEARNER,
            user__display_name=f"Learner {number:02d}",
            user__password=None,
        ).user
        for number in range(1, count + 1)
    ]


def state(course):
    return (
        list(Table.objects.filter(course=course).values_list("name", "capacity")),
        sorted(Seat.objects.filter(course=course).values_list("user_id", "table_id")),
        SeatingChange.objects.count(),
    )


@pytest.fixture
def staff_client(client, instructor):
    client.force_login(instructor)
    return client


# --- Access -----------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_log_in(client, course):
    response = client.get(url(course))
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


@pytest.mark.parametrize(
    ("person", "status"),
    [
        ("instructor", 200),
        ("ta", 200),
        ("platform_admin", 200),
        ("learner", 403),
        ("observer", 403),
        ("outsider", 404),
    ],
)
def test_page_access_per_role(client, course, request, person, status):
    client.force_login(request.getfixturevalue(person))
    assert client.get(url(course)).status_code == status


def test_missing_course_is_404(staff_client, course):
    assert staff_client.get(f"/courses/{course.pk + 1000}/seating/").status_code == 404


@pytest.mark.parametrize(
    ("person", "status"), [("learner", 403), ("observer", 403), ("outsider", 404)]
)
def test_non_staff_cannot_post(client, course, request, person, status):
    make_learners(course, 3)
    client.force_login(request.getfixturevalue(person))
    data = {"action": "auto", "auto-method": "auto_balanced", "auto-table_size": "6"}
    assert client.post(url(course), data).status_code == status
    assert state(course) == ([], [], 0)


def test_course_page_links_to_seating_for_staff_only(client, course, instructor, learner):
    client.force_login(instructor)
    assert url(course) in client.get(f"/courses/{course.pk}/").content.decode()
    client.force_login(learner)
    assert url(course) not in client.get(f"/courses/{course.pk}/").content.decode()


# --- The page ---------------------------------------------------------------------------


def test_page_shows_tables_with_members_and_capacity_and_the_unseated(
    staff_client, course, instructor, observer
):
    ada, ben, cem = make_learners(course, 3)
    red = table_create(course=course, name="Red", capacity=4, actor=instructor)
    table_create(course=course, name="Blue", actor=instructor)
    seat_move(course=course, user=ada, table=red, actor=instructor)
    seat_move(course=course, user=ben, table=red, actor=instructor)
    response = staff_client.get(url(course))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Red" in html and "2/4" in html and "Blue" in html and "0/6" in html
    assert html.index("Unseated learners") < html.index(cem.name) < html.index("Red")
    assert html.index("Red") < html.index(ada.name) < html.index("Blue")
    assert "2 of 3 learners seated at 2 tables." in html
    assert observer.name not in html


# --- Forms ------------------------------------------------------------------------------


def test_auto_seating_form(staff_client, course):
    make_learners(course, 7)
    response = staff_client.post(
        url(course),
        {"action": "auto", "auto-method": "auto_balanced", "auto-table_size": "4"},
        follow=True,
    )
    assert response.redirect_chain == [(url(course), 302)]
    assert "Seated automatically: 7 learners moved, 2 tables added." in response.content.decode()
    assert sorted(Table.objects.values_list("name", flat=True)) == ["Table 1", "Table 2"]
    assert Seat.objects.count() == 7


def test_auto_seating_form_with_a_bad_size_shows_the_error(staff_client, course):
    make_learners(course, 3)
    response = staff_client.post(
        url(course), {"action": "auto", "auto-method": "auto_fill", "auto-table_size": "11"}
    )
    assert response.status_code == 400
    assert "Learners per table: Ensure this value is less than or equal to 10." in (
        response.content.decode()
    )
    assert state(course) == ([], [], 0)


def test_csv_plan_pasted(staff_client, course):
    ada, ben = make_learners(course, 2)
    plan = f"learner,table\n{ada.username},Red\n{ben.email},Blue\n"
    response = staff_client.post(url(course), {"action": "csv", "csv-csv_text": plan}, follow=True)
    assert "Seating plan applied: 2 learners moved, 2 tables added." in response.content.decode()
    assert dict(Seat.objects.values_list("user__username", "table__name")) == {
        ada.username: "Red",
        ben.username: "Blue",
    }


def test_csv_plan_uploaded_as_a_file(staff_client, course):
    (ada,) = make_learners(course, 1)
    upload = SimpleUploadedFile(
        "plan.csv", f"\ufeffemail,table\r\n{ada.email},Red\r\n".encode(), "text/csv"
    )
    response = staff_client.post(url(course), {"action": "csv", "csv-csv_file": upload})
    assert response.status_code == 302
    assert Seat.objects.get().table.name == "Red"


def test_csv_plan_errors_are_listed_with_their_line_numbers(staff_client, course):
    (ada,) = make_learners(course, 1)
    plan = f"learner,table\n{ada.username},Red\nghost,Red\n{ada.username},Blue\n,Red\n"
    response = staff_client.post(url(course), {"action": "csv", "csv-csv_text": plan})
    html = response.content.decode()
    assert response.status_code == 400
    assert "The seating plan has errors; nothing was changed." in html
    assert "Line 3: Unknown learner “ghost”." in html
    assert f"Line 4: “{ada.username}” is already in the plan on line 2." in html
    assert "Line 5: The learner is empty." in html
    assert f"{ada.username},Blue" in html  # the pasted plan is kept for correction
    assert state(course) == ([], [], 0)


def test_csv_form_needs_a_file_or_a_plan(staff_client, course):
    response = staff_client.post(url(course), {"action": "csv", "csv-csv_text": "  "})
    assert response.status_code == 400
    assert "Choose a CSV file or paste a plan." in response.content.decode()


def test_csv_file_must_be_utf8(staff_client, course):
    upload = SimpleUploadedFile("plan.csv", "learner,table\nzoë,Red\n".encode("latin-1"))
    response = staff_client.post(url(course), {"action": "csv", "csv-csv_file": upload})
    assert response.status_code == 400
    assert "Save the CSV file as UTF-8." in response.content.decode()


def test_move_a_learner(staff_client, course, instructor):
    (ada,) = make_learners(course, 1)
    red = table_create(course=course, name="Red", actor=instructor)
    response = staff_client.post(
        url(course), {"action": "move", "move-learner": ada.pk, "move-table": red.pk}, follow=True
    )
    assert f"{ada.name} sits at Red." in response.content.decode()
    change = SeatingChange.objects.get()
    assert (change.user, change.to_table, change.actor, change.method) == (
        ada,
        red,
        instructor,
        "manual",
    )


def test_move_into_a_full_table_is_refused(staff_client, course, instructor):
    ada, ben, cem = make_learners(course, 3)
    small = table_create(course=course, name="Small", capacity=2, actor=instructor)
    other = table_create(course=course, name="Other", actor=instructor)
    seat_move(course=course, user=ada, table=small, actor=instructor)
    seat_move(course=course, user=ben, table=small, actor=instructor)
    seat_move(course=course, user=cem, table=other, actor=instructor)
    before = state(course)
    response = staff_client.post(
        url(course), {"action": "move", "move-learner": cem.pk, "move-table": small.pk}
    )
    assert response.status_code == 400
    assert "“Small” is full (2 seats)." in response.content.decode()
    assert state(course) == before


def test_move_of_someone_not_in_the_list_is_a_form_error(staff_client, course, instructor, ta):
    red = table_create(course=course, name="Red", actor=instructor)
    response = staff_client.post(
        url(course), {"action": "move", "move-learner": ta.pk, "move-table": red.pk}
    )
    assert response.status_code == 400
    assert not Seat.objects.exists()


def test_add_a_table_and_refuse_a_taken_name(staff_client, course):
    data = {"action": "table_create", "table_create-name": "Red", "table_create-capacity": "8"}
    response = staff_client.post(url(course), data, follow=True)
    assert "Table “Red” added." in response.content.decode()
    assert list(Table.objects.values_list("name", "capacity")) == [("Red", 8)]
    response = staff_client.post(url(course), {**data, "table_create-name": "red"})
    assert response.status_code == 400
    assert "This course already has a table named “red”." in response.content.decode()
    assert Table.objects.count() == 1


def test_rename_and_resize_a_table(staff_client, course, instructor):
    red = table_create(course=course, name="Red", actor=instructor)
    response = staff_client.post(
        url(course),
        {
            "action": "table_update",
            "table_update-table": red.pk,
            "table_update-name": "Crimson",
            "table_update-capacity": "10",
        },
        follow=True,
    )
    assert "Table “Crimson” saved." in response.content.decode()
    red.refresh_from_db()
    assert (red.name, red.capacity) == ("Crimson", 10)


def test_capacity_below_the_members_is_refused(staff_client, course, instructor):
    learners = make_learners(course, 3)
    red = table_create(course=course, name="Red", actor=instructor)
    for learner in learners:
        seat_move(course=course, user=learner, table=red, actor=instructor)
    response = staff_client.post(
        url(course),
        {
            "action": "table_update",
            "table_update-table": red.pk,
            "table_update-name": "Red",
            "table_update-capacity": "2",
        },
    )
    assert response.status_code == 400
    assert "3 learners sit at this table: the capacity cannot be lower." in (
        response.content.decode()
    )
    red.refresh_from_db()
    assert red.capacity == 6


def test_delete_an_empty_table_but_not_one_with_learners(staff_client, course, instructor):
    (ada,) = make_learners(course, 1)
    empty = table_create(course=course, name="Empty", actor=instructor)
    used = table_create(course=course, name="Used", actor=instructor)
    seat_move(course=course, user=ada, table=used, actor=instructor)
    response = staff_client.post(
        url(course), {"action": "table_delete", "table_delete-table": empty.pk}, follow=True
    )
    assert "Table “Empty” deleted." in response.content.decode()
    response = staff_client.post(
        url(course), {"action": "table_delete", "table_delete-table": used.pk}
    )
    assert response.status_code == 400
    assert "Learners sit at “Used”: move them before deleting the table." in (
        response.content.decode()
    )
    assert list(Table.objects.values_list("name", flat=True)) == ["Used"]


def test_tables_of_another_course_cannot_be_touched(staff_client, course, other_course, instructor):
    foreign = table_create(course=other_course, name="Foreign", actor=instructor)
    response = staff_client.post(
        url(course), {"action": "table_delete", "table_delete-table": foreign.pk}
    )
    assert response.status_code == 400
    assert Table.objects.filter(pk=foreign.pk).exists()


def test_unknown_action_is_a_400(staff_client, course):
    response = staff_client.post(url(course), {"action": "explode"})
    assert response.status_code == 400
    assert "Unknown action." in response.content.decode()
