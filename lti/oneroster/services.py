"""Apply a OneRoster CSV bundle (docs/oneroster.md).

`oneroster_import` is the only entry point: it parses the bundle, then applies
every row in ONE transaction through the course, enrolment and seating
services. Any bad row rolls the whole import back; a dry run applies
everything the same way and then rolls back, so its report is exactly what a
real import would do."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.text import slugify

from classroom.models import SeatingChange
from classroom.services.seating import seating_auto
from core.errors import ApplicationError
from courses.models import Course, Enrollment, Role, RosterIdentity, User
from courses.services import (
    course_create,
    course_update,
    enrollment_deactivate,
    enrollment_set,
    user_create,
    user_update,
)
from lti.oneroster.parser import Bundle, Row, RowError, bundle_read

Kind = RosterIdentity.Kind
SOURCE_MAX_LENGTH = 100
# OneRoster enrolment role → Roundtable role; None: not imported (reported).
ROLE_MAP: dict[str, str | None] = {
    "student": Role.LEARNER,
    "teacher": Role.INSTRUCTOR,
    "aide": Role.TA,
    "administrator": None,
    "guardian": None,
    "parent": None,
    "proctor": None,
    "relative": None,
}
FILE_KINDS: dict[str, str] = {
    "orgs": Kind.ORG,
    "academicSessions": Kind.ACADEMIC_SESSION,
    "courses": Kind.COURSE,
    "classes": Kind.CLASS,
    "users": Kind.USER,
    "roles": Kind.ROLE,
    "enrollments": Kind.ENROLLMENT,
}
ENTITY_ORDER = (*FILE_KINDS, "seating")
ACTIONS = ("created", "updated", "deactivated", "unchanged", "skipped")
_USERNAME_OK = UnicodeUsernameValidator()


@dataclass(frozen=True)
class ReportLine:
    entity: str  # a file key (users, classes, …) or "seating"
    action: str  # one of ACTIONS, or "seated"
    text: str
    file: str = ""
    line: int = 0

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}: " if self.file and self.line else ""
        return f"{where}{self.action} {self.text}"


@dataclass
class ImportReport:
    source: str
    dry_run: bool
    version: str = ""
    modes: dict[str, str] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)
    lines: list[ReportLine] = field(default_factory=list)
    counts: dict[str, Counter] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def applied(self) -> bool:
        return self.ok and not self.dry_run

    @property
    def changes(self) -> int:
        return sum(
            counter[action]
            for counter in self.counts.values()
            for action in ("created", "updated", "deactivated", "seated")
        )

    def count(self, entity: str, action: str) -> int:
        return self.counts.get(entity, Counter())[action]

    def table(self) -> list[tuple[str, dict[str, int]]]:
        """(entity, {action: n}) in processing order, for the entities seen."""
        return [
            (entity, {action: self.counts[entity][action] for action in (*ACTIONS, "seated")})
            for entity in ENTITY_ORDER
            if entity in self.counts
        ]

    def note(self, entity: str, action: str, text: str, row: Row | None = None) -> None:
        self.counts.setdefault(entity, Counter())[action] += 1
        if action != "unchanged":
            self.lines.append(
                ReportLine(entity, action, text, row.file if row else "", row.line if row else 0)
            )

    def summary(self) -> str:
        if self.errors:
            return f"{len(self.errors)} error(s): nothing was imported."
        if self.dry_run:
            return f"Dry run: {self.changes} change(s) would be made; nothing was written."
        return f"{self.changes} change(s) applied."


class _Rollback(Exception):
    """Raised inside the import transaction to undo it (dry run or errors)."""


class _RowFailed(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _error_text(error: ApplicationError) -> str:
    if error.details:
        parts = []
        for name, messages in error.details.items():
            text = "; ".join(str(m) for m in messages) if isinstance(messages, list) else messages
            parts.append(f"{name}: {text}")
        return ", ".join(parts)
    return error.message


def _object_ids(identities: dict[str, RosterIdentity]) -> set[int]:
    return {identity.object_id for identity in identities.values() if identity.object_id}


class _Importer:
    """Applies one parsed bundle. Caller holds the transaction."""

    def __init__(self, *, bundle: Bundle, source: str, actor: User | None, report: ImportReport):
        self.bundle = bundle
        self.source = source
        self.actor = actor
        self.report = report
        self.identities: dict[str, dict[str, RosterIdentity]] = {kind: {} for kind in Kind.values}
        for identity in RosterIdentity.objects.filter(source=source):
            self.identities[identity.kind][identity.sourced_id] = identity
        self.dirty: dict[int, RosterIdentity] = {}
        self.new: list[RosterIdentity] = []
        # Who/what is inactive after this import (rows and cascades).
        self.inactive_users: set[int] = set()
        self.inactive_courses: set[int] = set()
        self.new_learner_courses: dict[int, Course] = {}
        self.touched_enrollments: set[int] = set()
        self.users: dict[int, User] = {}
        self.accounts: dict[str, User] = {}
        # (file, sourcedId) of rows with errors: rows referencing them are not
        # reported a second time.
        self.failed: set[tuple[str, str]] = set()
        self.courses: dict[int, Course] = {}

    # --- identities ------------------------------------------------------------------

    def _rows(self, key: str) -> list[Row]:
        return self.bundle.rows.get(key, [])

    def _fail(self, row: Row, message: str) -> None:
        self.report.errors.append(RowError(row.file, row.line, message))
        self.failed.add((row.file, row.sourced_id))

    def _unknown_deletion(self, key: str, row: Row) -> bool:
        """A tobedeleted row for a sourcedId never imported: nothing to do."""
        if row.active or row.sourced_id in self.identities[FILE_KINDS[key]]:
            return False
        self.report.note(key, "skipped", f"{row.sourced_id} (tobedeleted, never imported)", row)
        return True

    def _stale(self, kind: str, row: Row) -> bool:
        identity = self.identities[kind].get(row.sourced_id)
        return bool(
            identity
            and identity.date_last_modified
            and row.date_last_modified
            and row.date_last_modified < identity.date_last_modified
        )

    def _identity_put(
        self, kind: str, row: Row, *, object_id: int | None, active: bool
    ) -> tuple[RosterIdentity, bool]:
        """Record the row's identity; returns (identity, stored data changed).
        A change of dateLastModified alone is stored but not counted."""
        identity = self.identities[kind].get(row.sourced_id)
        attributes = row.attributes() if row.active else None
        if identity is None:
            identity = RosterIdentity(
                source=self.source,
                kind=kind,
                sourced_id=row.sourced_id,
                object_id=object_id,
                is_active=active,
                date_last_modified=row.date_last_modified,
                attributes=attributes or {},
                metadata=row.metadata,
            )
            self.identities[kind][row.sourced_id] = identity
            self.new.append(identity)
            return identity, True
        changed = False
        wanted: dict[str, Any] = {"is_active": active}
        if object_id is not None:
            wanted["object_id"] = object_id
        if attributes is not None:
            wanted["attributes"] = attributes
            wanted["metadata"] = row.metadata
        for name, value in wanted.items():
            if getattr(identity, name) != value:
                setattr(identity, name, value)
                changed = True
        if row.date_last_modified and identity.date_last_modified != row.date_last_modified:
            identity.date_last_modified = row.date_last_modified
            self._mark_dirty(identity)
        if changed:
            self._mark_dirty(identity)
        return identity, changed

    def _mark_dirty(self, identity: RosterIdentity) -> None:
        if identity.pk:
            self.dirty[identity.pk] = identity

    def _missing_from_bulk(self, key: str) -> list[RosterIdentity]:
        """Stored active identities of this file's kind that a bulk file left out."""
        if self.bundle.modes.get(key) != "bulk":
            return []
        present = {row.sourced_id for row in self._rows(key)}
        return [
            identity
            for sourced_id, identity in self.identities[FILE_KINDS[key]].items()
            if identity.is_active and identity.pk and sourced_id not in present
        ]

    def _check_refs(
        self, row: Row, kind: str, column: str, *, many: bool = False, required: bool = False
    ) -> bool:
        """Unknown references are errors. Optional ones (orgs) are checked only
        for kinds this source knows at all (a bundle without orgs.csv and no
        stored orgs skips org checks); `required` ones always."""
        known = self.identities[kind] or FILE_KINDS_BY_KIND[kind] in self.bundle.modes
        if not (required or known):
            return True
        ok = True
        filename = f"{FILE_KINDS_BY_KIND[kind]}.csv"
        for sourced_id in row.list(column) if many else [row.get(column)]:
            if (filename, sourced_id) in self.failed:
                ok = False
            elif sourced_id and sourced_id not in self.identities[kind]:
                self._fail(row, f"{column} {sourced_id} is not a known {Kind(kind).label.lower()}")
                ok = False
        return ok

    # --- files without Roundtable objects -----------------------------------------------

    def _plain(self, key: str, refs: tuple[tuple[str, str, bool], ...] = ()) -> None:
        kind = FILE_KINDS[key]
        for row in self._rows(key):
            if self._unknown_deletion(key, row):
                continue
            if row.active and not all(
                self._check_refs(row, ref_kind, column, many=many)
                for ref_kind, column, many in refs
            ):
                continue
            if self._stale(kind, row):
                self.report.note(key, "skipped", f"{row.sourced_id} (older than stored)", row)
                continue
            existed = row.sourced_id in self.identities[kind]
            _identity, changed = self._identity_put(kind, row, object_id=None, active=row.active)
            action = (
                "unchanged"
                if not changed
                else "deactivated"
                if not row.active
                else "updated"
                if existed
                else "created"
            )
            self.report.note(key, action, row.sourced_id, row)
        for identity in self._missing_from_bulk(key):
            identity.is_active = False
            self._mark_dirty(identity)
            self.report.note(key, "deactivated", f"{identity.sourced_id} (not in the bulk file)")

    # --- classes → courses ---------------------------------------------------------------

    def _class_fields(self, row: Row) -> tuple[str, str, str]:
        course = self.identities[Kind.COURSE][row.get("courseSourcedId")]
        course_title = course.attributes.get("title", "")
        class_title = row.get("title")
        if not course_title or course_title.casefold() in class_title.casefold():
            title = class_title
        elif class_title.casefold() in course_title.casefold():
            title = course_title
        else:
            title = f"{course_title}: {class_title}"
        code = row.get("classCode") or course.attributes.get("courseCode", "") or row.sourced_id
        terms = []
        for sourced_id in row.list("termSourcedIds"):
            term = self.identities[Kind.ACADEMIC_SESSION][sourced_id].attributes.get("title", "")
            if term and term not in terms:
                terms.append(term)
        term_text = ", ".join(terms)
        if len(title) > 200:
            title = title[:199] + "…"
        if len(code) > 50:
            raise _RowFailed(f"code {code!r} is longer than 50 characters")
        if len(term_text) > 50:
            raise _RowFailed(f"term {term_text!r} is longer than 50 characters")
        return title, code, term_text

    def _classes(self) -> None:
        kind = Kind.CLASS
        courses = self.courses = Course.objects.in_bulk(_object_ids(self.identities[kind]))
        for row in self._rows("classes"):
            if self._unknown_deletion("classes", row):
                continue
            if self._stale(kind, row):
                self.report.note("classes", "skipped", f"{row.sourced_id} (older than stored)", row)
                continue
            identity = self.identities[kind].get(row.sourced_id)
            course = courses.get(identity.object_id) if identity and identity.object_id else None
            if not row.active:
                if course is not None:
                    self.inactive_courses.add(course.pk)
                _identity, changed = self._identity_put(kind, row, object_id=None, active=False)
                action = "deactivated" if changed else "unchanged"
                self.report.note("classes", action, f"{row.sourced_id}", row)
                continue
            refs_ok = all(
                [
                    self._check_refs(row, Kind.COURSE, "courseSourcedId", required=True),
                    self._check_refs(
                        row, Kind.ACADEMIC_SESSION, "termSourcedIds", many=True, required=True
                    ),
                    self._check_refs(row, Kind.ORG, "schoolSourcedId"),
                ]
            )
            if not refs_ok:
                continue
            if row.get("courseSourcedId") not in self.identities[Kind.COURSE]:
                self._fail(row, "courseSourcedId must name a course of this source")
                continue
            try:
                title, code, term = self._class_fields(row)
                if course is None:
                    course = self._course_adopt_or_create(title=title, code=code, term=term)
                    courses[course.pk] = course
                    action = "created"
                else:
                    action = (
                        "updated"
                        if course_update(course=course, title=title, code=code, term=term)
                        else "unchanged"
                    )
            except (_RowFailed, ApplicationError) as error:
                text = error.message if isinstance(error, _RowFailed) else _error_text(error)
                self._fail(row, text)
                continue
            _identity, changed = self._identity_put(kind, row, object_id=course.pk, active=True)
            if action == "unchanged" and changed:
                action = "updated"
            self.report.note("classes", action, f"{row.sourced_id} → {course}", row)
        for identity in self._missing_from_bulk("classes"):
            identity.is_active = False
            self._mark_dirty(identity)
            if identity.object_id:
                self.inactive_courses.add(identity.object_id)
            self.report.note(
                "classes", "deactivated", f"{identity.sourced_id} (not in the bulk file)"
            )

    def _course_adopt_or_create(self, *, title: str, code: str, term: str) -> Course:
        clash = Course.objects.filter(code=code, term=term).first()
        if clash is not None:
            raise _RowFailed(
                f"course {code} {term} already exists and was not imported from this source"
            )
        return course_create(title=title, code=code, term=term)

    # --- users ------------------------------------------------------------------------------

    def _username_for(self, row: Row, taken: set[str]) -> str:
        parts = [slugify(row.get(column)) for column in ("givenName", "familyName")]
        base = re.sub(r"[^\w.@+-]", "", ".".join(part for part in parts if part))[:140] or "user"
        candidate, number = base, 1
        while (
            candidate.casefold() in taken
            or User.objects.filter(username__iexact=candidate).exists()
        ):
            number += 1
            candidate = f"{base}{number}"
        return candidate

    def _users(self) -> None:
        kind = Kind.USER
        users = self.users = User.objects.in_bulk(_object_ids(self.identities[kind]))
        taken: set[str] = set()
        failed: set[int] = set()
        usernames: dict[str, int] = {}
        emails: dict[str, int] = {}
        for row in self._rows("users"):
            if not row.active:
                continue
            for value, seen, label in (
                (row.get("username"), usernames, "username"),
                (row.get("email"), emails, "email"),
            ):
                key = value.casefold()
                if key and key in seen:
                    self._fail(row, f"{label} {value} is also on line {seen[key]}")
                    failed.add(row.line)
                elif key:
                    seen[key] = row.line
        taken.update(usernames)
        # One query for the accounts that new rows' usernames may adopt.
        wanted = [row.get("username") for row in self._rows("users") if row.get("username")]
        self.accounts = (
            {user.username: user for user in User.objects.filter(username__in=wanted)}
            if wanted
            else {}
        )
        for row in self._rows("users"):
            if row.line in failed or self._unknown_deletion("users", row):
                continue
            if self._stale(kind, row):
                self.report.note("users", "skipped", f"{row.sourced_id} (older than stored)", row)
                continue
            identity = self.identities[kind].get(row.sourced_id)
            user = users.get(identity.object_id) if identity and identity.object_id else None
            if not row.active:
                if user is not None:
                    self.inactive_users.add(user.pk)
                _identity, changed = self._identity_put(kind, row, object_id=None, active=False)
                self.report.note(
                    "users", "deactivated" if changed else "unchanged", row.sourced_id, row
                )
                continue
            if not self._check_refs(row, Kind.ORG, "orgSourcedIds", many=True):
                continue
            username = row.get("username")
            if username:
                try:
                    _USERNAME_OK(username)
                except DjangoValidationError:
                    self._fail(row, f"username {username!r} has characters a username cannot hold")
                    continue
                if len(username) > 150:
                    self._fail(row, "username is longer than 150 characters")
                    continue
            fields = {
                "first_name": row.get("givenName")[:150],
                "last_name": row.get("familyName")[:150],
                "email": row.get("email"),
                "display_name": " ".join(
                    part
                    for part in (
                        row.get("preferredFirstName") or row.get("preferredGivenName"),
                        row.get("familyName"),
                    )
                    if part
                )[:150]
                if (row.get("preferredFirstName") or row.get("preferredGivenName"))
                else "",
            }
            try:
                if user is None:
                    user, action = self._user_adopt_or_create(row, fields, taken)
                    users[user.pk] = user
                else:
                    if username:
                        fields["username"] = username
                    action = "updated" if user_update(user=user, **fields) else "unchanged"
            except (_RowFailed, ApplicationError) as error:
                text = error.message if isinstance(error, _RowFailed) else _error_text(error)
                self._fail(row, text)
                continue
            _identity, changed = self._identity_put(kind, row, object_id=user.pk, active=True)
            if action == "unchanged" and changed:
                action = "updated"
            self.report.note("users", action, f"{row.sourced_id} → {user.username}", row)
        for identity in self._missing_from_bulk("users"):
            identity.is_active = False
            self._mark_dirty(identity)
            if identity.object_id:
                self.inactive_users.add(identity.object_id)
            self.report.note(
                "users", "deactivated", f"{identity.sourced_id} (not in the bulk file)"
            )

    def _user_adopt_or_create(
        self, row: Row, fields: dict[str, str], taken: set[str]
    ) -> tuple[User, str]:
        """A new sourcedId: link the existing account with the same username
        and the same (non-empty) email, else create one."""
        username = row.get("username")
        if username:
            existing = self.accounts.get(username)
            if existing is not None:
                linked = any(
                    identity.object_id == existing.pk
                    for identity in self.identities[Kind.USER].values()
                )
                same_email = bool(fields["email"]) and (
                    existing.email.casefold() == fields["email"].casefold()
                )
                if linked or not same_email:
                    raise _RowFailed(
                        f"username {username} belongs to an account not imported from "
                        "this source (with another email)"
                    )
                changed = user_update(user=existing, **fields)
                return existing, "updated" if changed else "unchanged"
        else:
            username = self._username_for(row, taken)
            taken.add(username.casefold())
        return user_create(username=username, **fields), "created"

    # --- roles (1.2) ----------------------------------------------------------------------

    def _roles(self) -> None:
        self._plain(
            "roles", refs=((Kind.USER, "userSourcedId", False), (Kind.ORG, "orgSourcedId", False))
        )

    # --- enrollments ----------------------------------------------------------------------

    def _enrollments(self) -> None:
        kind = Kind.ENROLLMENT
        rows = self._rows("enrollments")
        enrollments = Enrollment.objects.in_bulk(_object_ids(self.identities[kind]))
        pairs: dict[tuple[str, str], int] = {}
        # (user id, course id) → (role, is_active) of the enrolments rows may touch.
        user_ids = {i.object_id for i in self.identities[Kind.USER].values() if i.object_id}
        course_ids = {i.object_id for i in self.identities[Kind.CLASS].values() if i.object_id}
        states = (
            {
                (user_id, course_id): (role, active)
                for user_id, course_id, role, active in Enrollment.objects.filter(
                    user_id__in=user_ids, course_id__in=course_ids
                ).values_list("user_id", "course_id", "role", "is_active")
            }
            if rows
            else {}
        )
        for row in rows:
            if self._stale(kind, row):
                self.report.note(
                    "enrollments", "skipped", f"{row.sourced_id} (older than stored)", row
                )
                continue
            identity = self.identities[kind].get(row.sourced_id)
            current = (
                enrollments.get(identity.object_id) if identity and identity.object_id else None
            )
            if not row.active:
                self._enrollment_off(row, current)
                continue
            refs_ok = all(
                [
                    self._check_refs(row, Kind.USER, "userSourcedId", required=True),
                    self._check_refs(row, Kind.CLASS, "classSourcedId", required=True),
                    self._check_refs(row, Kind.ORG, "schoolSourcedId"),
                ]
            )
            if not refs_ok:
                continue
            user_id = self.identities[Kind.USER].get(row.get("userSourcedId"))
            class_id = self.identities[Kind.CLASS].get(row.get("classSourcedId"))
            if user_id is None or class_id is None:
                self._fail(row, "userSourcedId and classSourcedId must be known to this source")
                continue
            pair = (row.get("userSourcedId"), row.get("classSourcedId"))
            if pair in pairs:
                self._fail(
                    row, f"this user is already enrolled in this class on line {pairs[pair]}"
                )
                continue
            pairs[pair] = row.line
            role = ROLE_MAP[row.get("role")]
            if role is None:
                self._identity_put(kind, row, object_id=None, active=False)
                self.report.note(
                    "enrollments",
                    "skipped",
                    f"{row.sourced_id}: role {row.get('role')} has no Roundtable role",
                    row,
                )
                continue
            if not (user_id.is_active and class_id.is_active and user_id.object_id):
                # The person or the class is gone: the enrolment is inactive too.
                self._enrollment_off(row, current)
                continue
            user = self.users.get(user_id.object_id) or User.objects.get(pk=user_id.object_id)
            course = self.courses.get(class_id.object_id) or Course.objects.get(
                pk=class_id.object_id
            )
            if current is not None and (current.user_id, current.course_id) != (
                user.pk,
                course.pk,
            ):
                enrollment_deactivate(user=current.user, course=current.course, actor=self.actor)
            before = states.get((user.pk, course.pk))
            enrollment, created = enrollment_set(
                user=user, course=course, role=role, actor=self.actor
            )
            self.touched_enrollments.add(enrollment.pk)
            changed_object = created or before != (role, True)
            if role == Role.LEARNER and changed_object:
                self.new_learner_courses[course.pk] = course
            _identity, changed = self._identity_put(kind, row, object_id=enrollment.pk, active=True)
            action = (
                "created" if created else "updated" if changed_object or changed else "unchanged"
            )
            self.report.note(
                "enrollments", action, f"{user.username} in {course.code} as {role}", row
            )
        for identity in self._missing_from_bulk("enrollments"):
            identity.is_active = False
            self._mark_dirty(identity)
            enrollment = enrollments.get(identity.object_id) if identity.object_id else None
            if enrollment is not None and enrollment.is_active:
                enrollment_deactivate(
                    user=enrollment.user, course=enrollment.course, actor=self.actor
                )
            self.report.note(
                "enrollments", "deactivated", f"{identity.sourced_id} (not in the bulk file)"
            )

    def _enrollment_off(self, row: Row, current: Enrollment | None) -> None:
        if self._unknown_deletion("enrollments", row):
            return
        was_active = bool(current and current.is_active)
        if current is not None and current.is_active:
            enrollment_deactivate(user=current.user, course=current.course, actor=self.actor)
        _identity, changed = self._identity_put(
            Kind.ENROLLMENT,
            row,
            object_id=current.pk if current else None,
            active=row.active,
        )
        action = "deactivated" if was_active else "updated" if changed else "unchanged"
        self.report.note("enrollments", action, row.sourced_id, row)

    def _cascade(self) -> None:
        """Users and classes that are gone take their enrolments from this
        source with them (the enrolments are deactivated, never deleted)."""
        if not (self.inactive_users or self.inactive_courses):
            return
        owned = _object_ids(self.identities[Kind.ENROLLMENT])
        gone = (
            Enrollment.objects.filter(pk__in=owned, is_active=True)
            .exclude(pk__in=self.touched_enrollments)
            .select_related("user", "course")
        )
        for enrollment in gone:
            if (
                enrollment.user_id in self.inactive_users
                or enrollment.course_id in self.inactive_courses
            ):
                enrollment_deactivate(
                    user=enrollment.user, course=enrollment.course, actor=self.actor
                )
                self.report.note(
                    "enrollments",
                    "deactivated",
                    f"{enrollment.user.username} in {enrollment.course.code} "
                    "(user or class removed)",
                )

    def _seat(self) -> None:
        """New learners get seats by the course's fill rule (docs/seating.md)."""
        for course in sorted(self.new_learner_courses.values(), key=lambda c: c.pk):
            result = seating_auto(
                course=course, method=SeatingChange.Method.AUTO_FILL, actor=self.actor
            )
            if result.moved:
                self.report.counts.setdefault("seating", Counter())["seated"] += result.moved
                self.report.lines.append(
                    ReportLine(
                        "seating",
                        "seated",
                        f"{result.moved} learner(s) in {course.code}"
                        + (
                            f", {len(result.created_tables)} new table(s)"
                            if result.created_tables
                            else ""
                        ),
                    )
                )

    def run(self) -> None:
        self._plain("orgs")
        self._plain("academicSessions", refs=((Kind.ORG, "orgSourcedId", False),))
        self._plain(
            "courses",
            refs=(
                (Kind.ORG, "orgSourcedId", False),
                (Kind.ACADEMIC_SESSION, "schoolYearSourcedId", False),
            ),
        )
        self._classes()
        self._users()
        self._roles()
        self._enrollments()
        if self.report.errors:
            return
        self._cascade()
        self._seat()
        if self.new:
            RosterIdentity.objects.bulk_create(self.new, batch_size=500)
        if self.dirty:
            now = timezone.now()
            for identity in self.dirty.values():
                identity.updated_at = now  # bulk_update does not apply auto_now
            RosterIdentity.objects.bulk_update(
                list(self.dirty.values()),
                [
                    "object_id",
                    "is_active",
                    "date_last_modified",
                    "attributes",
                    "metadata",
                    "updated_at",
                ],
                batch_size=500,
            )


FILE_KINDS_BY_KIND = {kind: key for key, kind in FILE_KINDS.items()}


def _source_lock(source: str) -> None:
    """Imports of one source run one at a time (PostgreSQL advisory lock held
    to the end of the transaction)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"oneroster:{source}"])


def oneroster_import(
    *, data: bytes, source: str, actor: User | None = None, dry_run: bool = False
) -> ImportReport:
    """Import a OneRoster CSV bundle (zip bytes) for `source` (the name this
    roster's sourcedIds belong to). Returns the report; with errors or a dry
    run nothing is written."""
    source = source.strip()
    report = ImportReport(source=source, dry_run=dry_run)
    if not source or len(source) > SOURCE_MAX_LENGTH:
        report.errors.append(RowError("", 0, "the source name must be 1–100 characters"))
        return report
    bundle = bundle_read(data)
    report.version, report.modes = bundle.version, dict(bundle.modes)
    if bundle.errors:
        report.errors = list(bundle.errors)
        return report
    try:
        with transaction.atomic():
            _source_lock(source)
            _Importer(bundle=bundle, source=source, actor=actor, report=report).run()
            if report.errors or dry_run:
                raise _Rollback
    except _Rollback:
        pass
    report.errors.sort(key=lambda error: (error.file, error.line))
    return report
