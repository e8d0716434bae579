"""Idempotent demo data for local use: one course, an instructor, a TA and 24
learners seated at 4 tables, a scheduled session and a past session; the apps
above classroom add theirs through `classroom.hooks.demo_seeded` (playback: the
past session's recording). Refuses production mode."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from classroom import hooks
from classroom.models import LiveSession, Seat, SeatingChange, SessionState
from classroom.selectors import seat_map_get
from classroom.services.seating import seating_auto
from courses.models import Course, Role, User
from courses.services import enrollment_set

DEMO_PASSWORD = "roundtable-demo"
COURSE = {"code": "BIO-101", "term": "Fall 2026", "title": "Introduction to Cell Biology"}
LEARNER_NAMES = [
    "Amara Okafor",
    "Ben Carter",
    "Chen Wei",
    "Dana Novak",
    "Elif Yilmaz",
    "Femi Adeyemi",
    "Grace Liu",
    "Hugo Martin",
    "Isha Patel",
    "Jonas Berg",
    "Kaito Sato",
    "Lena Fischer",
    "Mateo Rossi",
    "Nadia Haddad",
    "Omar Farouk",
    "Priya Nair",
    "Quinn Walsh",
    "Rosa Diaz",
    "Sven Olsen",
    "Tara Singh",
    "Uma Reddy",
    "Victor Hugo",
    "Wen Zhao",
    "Yara Costa",
]


class Command(BaseCommand):
    help = "Create or refresh the demo course, its people and two sessions (never in production)."

    def handle(self, *args, **options) -> None:
        if settings.IS_PRODUCTION:
            raise CommandError(
                "seed_demo refuses to run in production mode (DJANGO_ENV=production)."
            )
        with transaction.atomic():
            course, _ = Course.objects.get_or_create(
                code=COURSE["code"],
                term=COURSE["term"],
                defaults={"title": COURSE["title"], "time_zone": "Europe/Berlin"},
            )
            people = [
                ("instructor", "Dr. Maya Alvarez", Role.INSTRUCTOR),
                ("ta", "Sam Rivera", Role.TA),
            ]
            people += [
                (f"learner{number:02d}", name, Role.LEARNER)
                for number, name in enumerate(LEARNER_NAMES, start=1)
            ]
            users = {}
            for username, name, role in people:
                users[username] = self._user(username, name)
                enrollment_set(user=users[username], course=course, role=role)
            admin = self._user("admin", "Platform Admin")
            if not admin.is_superuser:
                admin.is_staff = admin.is_superuser = True
                admin.save(update_fields=["is_staff", "is_superuser"])
            self._sessions(course)
            self._seating(course, actor=users["instructor"])
        hooks.demo_seeded(course=course, stdout=self.stdout)  # playback: the demo recording
        self._print_logins(course)
        self._print_tables(course)

    def _user(self, username: str, name: str) -> User:
        user, created = User.objects.get_or_create(
            username=username,
            defaults={"display_name": name, "email": f"{username}@demo.roundtable.test"},
        )
        if created or not user.check_password(DEMO_PASSWORD):
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        return user

    def _sessions(self, course: Course) -> None:
        # Anchored to today so "upcoming" and "past" stay true on every run.
        at_ten = datetime.combine(timezone.now().date(), time(10), tzinfo=UTC)
        specs = [
            ("Week 1: What is a cell?", at_ten - timedelta(days=7), SessionState.ENDED),
            ("Week 2: Membranes and transport", at_ten + timedelta(days=1), SessionState.SCHEDULED),
        ]
        for title, start, state in specs:
            session, created = LiveSession.objects.get_or_create(
                course=course,
                title=title,
                defaults={
                    "scheduled_start": start,
                    "scheduled_end": start + timedelta(minutes=75),
                    "state": state,
                },
            )
            if created and state == SessionState.ENDED:
                session.started_at = start
                session.ended_at = start + timedelta(minutes=72)
                session.save(update_fields=["started_at", "ended_at"])

    def _seating(self, course: Course, actor: User) -> None:
        # Seat only a course nobody sits in yet, so a second run (or the
        # instructor's own seating) is left alone.
        if not Seat.objects.filter(course=course).exists():
            seating_auto(
                course=course,
                method=SeatingChange.Method.AUTO_BALANCED,
                actor=actor,
                table_size=6,
            )

    def _print_tables(self, course: Course) -> None:
        self.stdout.write("  Tables:")
        for table in seat_map_get(course_id=course.pk):
            members = ", ".join(member["name"] for member in table["members"])
            self.stdout.write(
                f"    {table['name']} ({len(table['members'])}/{table['capacity']}): {members}"
            )

    def _print_logins(self, course: Course) -> None:
        write = self.stdout.write
        write(self.style.SUCCESS(f"Demo course ready: {course}"))
        write(f"  Instructor: instructor / {DEMO_PASSWORD}")
        write(f"  TA:         ta / {DEMO_PASSWORD}")
        write(f"  Learners:   learner01 … learner24 / {DEMO_PASSWORD}")
        write(f"  Admin:      admin / {DEMO_PASSWORD}  (Django admin at /admin/)")
