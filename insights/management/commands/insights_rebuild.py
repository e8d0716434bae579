from django.core.management.base import BaseCommand, CommandError

from courses.models import Course
from insights.services import rollups_course_rebuild


class Command(BaseCommand):
    help = "Recompute a course's rollups from the event log (docs/analytics.md#rollups)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--course", type=int, required=True, help="the course id")

    def handle(self, *args, course: int, **options) -> None:
        if not Course.objects.filter(pk=course).exists():
            raise CommandError(f"No course with id {course}.")
        done = rollups_course_rebuild(course_id=course)
        self.stdout.write(
            f"Rebuilt course {course}: {done['sessions']} sessions, "
            f"{done['recordings']} recordings."
        )
