"""manage.py oneroster_import bundle.zip [--source NAME] [--dry-run] [--actor USERNAME]

Imports a OneRoster 1.1/1.2 CSV bundle (docs/oneroster.md). Prints the report;
exits with status 1 and writes nothing when any row is bad."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from courses.models import User
from lti.oneroster.services import oneroster_import
from lti.oneroster.views import MAX_UPLOAD_BYTES


class Command(BaseCommand):
    help = "Import a OneRoster CSV bundle (zip)."

    def add_arguments(self, parser):
        parser.add_argument("bundle", type=Path, help="the zip file")
        parser.add_argument(
            "--source",
            default="oneroster",
            help="the name this roster's sourcedIds belong to (default: oneroster)",
        )
        parser.add_argument("--dry-run", action="store_true", help="report, write nothing")
        parser.add_argument("--actor", help="username recorded as the actor of the changes")

    def handle(self, *args, bundle: Path, source: str, dry_run: bool, actor: str | None, **kw):
        try:
            if bundle.stat().st_size > MAX_UPLOAD_BYTES:
                raise CommandError(f"{bundle} is larger than {MAX_UPLOAD_BYTES // 2**20} MB")
            data = bundle.read_bytes()
        except OSError as error:
            raise CommandError(f"cannot read {bundle}: {error}") from error
        actor_user = None
        if actor:
            actor_user = User.objects.filter(username=actor).first()
            if actor_user is None:
                raise CommandError(f"no user {actor}")
        report = oneroster_import(data=data, source=source, actor=actor_user, dry_run=dry_run)
        for line in report.lines:
            self.stdout.write(str(line))
        for entity, counts in report.table():
            shown = ", ".join(f"{action} {n}" for action, n in counts.items() if n)
            self.stdout.write(f"{entity}: {shown or 'nothing'}")
        for error in report.errors:
            self.stderr.write(str(error))
        if not report.ok:
            raise CommandError(report.summary())
        self.stdout.write(self.style.SUCCESS(report.summary()))
