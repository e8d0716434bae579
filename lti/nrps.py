"""Names and Role Provisioning Services 2.0: sync a course roster from the LMS.

`roster_sync(context=, trigger=)` fetches every page of the context's
membership container (following `Link: <…>; rel="next"`, quoted or not,
relative or absolute), or, when the previous sync got a `rel="differences"`
link, only the changes since then; then applies the roster in one
transaction with a fixed number of queries (no query per member on the happy
path): new users and identities are bulk-created, names updated in bulk,
enrolments through courses.services.enrollment_sync (roles by
lti.roles.role_map), new learners seated (classroom seating, auto_fill), and
members who left are deactivated (never deleted). A RosterSync row records
what changed or why it failed. docs/lms.md ("Roster sync")."""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urljoin

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import DatabaseError, transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from classroom.selectors import seat_map_get
from classroom.services.seating import seating_auto
from courses.models import Enrollment, Role, User
from courses.services import enrollment_sync
from lti import claims as C
from lti.client import ServiceError, service_request
from lti.errors import LtiError
from lti.models import LtiContext, LtiIdentity, RosterSync
from lti.roles import role_map

log = logging.getLogger("lti")

MEMBERSHIP_MEDIA_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
LAUNCH_SYNC_INTERVAL = timedelta(minutes=10)
MAX_PAGES = 1000
_LINK = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]+)*)")
_REL = re.compile(r"""rel\s*=\s*(?:"([^"]*)"|([^\s;,"]+))""", re.IGNORECASE)


def link_header_parse(value: str, base_url: str) -> dict[str, str]:
    """rel → absolute URL from a Link header (RFC 8288): quoted or bare rel,
    several rels per link, relative URLs resolved against the page's URL."""
    links: dict[str, str] = {}
    for match in _LINK.finditer(value or ""):
        url, params = match.group(1).strip(), match.group(2)
        for rel_match in _REL.finditer(params):
            for rel in (rel_match.group(1) or rel_match.group(2) or "").split():
                links.setdefault(rel.lower(), urljoin(base_url, url))
    return links


@dataclass
class Member:
    sub: str
    role: str
    active: bool
    name: str
    email: str
    given_name: str = ""
    family_name: str = ""


@dataclass
class Roster:
    members: dict[str, Member] = field(default_factory=dict)
    pages: int = 0
    differences_url: str = ""
    errors: list[str] = field(default_factory=list)


def _member_parse(raw) -> Member | str:
    if not isinstance(raw, dict):
        return "a member that is not an object"
    sub = raw.get("user_id")
    if not isinstance(sub, str) or not sub.strip() or len(sub) > 255:
        return f"a member without a usable user_id ({str(sub)[:40]!r})"
    roles = raw.get("roles")
    status = str(raw.get("status") or "Active")
    given, family = str(raw.get("given_name") or ""), str(raw.get("family_name") or "")
    name = " ".join(p for p in (given.strip(), family.strip()) if p) or str(raw.get("name") or "")
    email = str(raw.get("email") or "").strip()
    try:
        validate_email(email)
    except DjangoValidationError:
        email = ""
    return Member(
        sub=sub,
        role=role_map(roles if isinstance(roles, list) else []),
        active=status.lower() == "active",
        name=name.strip()[:150],
        email=email[:254],
        given_name=given[:150],
        family_name=family[:150],
    )


def roster_fetch(*, context: LtiContext, url: str) -> Roster:
    """Every page of the membership container from `url`."""
    registration = context.deployment.registration
    roster = Roster()
    seen: set[str] = set()
    next_url: str | None = url
    while next_url:
        if next_url in seen or roster.pages >= MAX_PAGES:
            raise ServiceError(f"The roster's pages loop or never end (at {next_url}).")
        seen.add(next_url)
        answer = service_request(
            registration=registration,
            scopes=[C.SCOPE_NRPS],
            method="GET",
            url=next_url,
            accept=MEMBERSHIP_MEDIA_TYPE,
        )
        roster.pages += 1
        body = answer.body
        if not isinstance(body, dict) or not isinstance(body.get("members"), list):
            raise ServiceError(f"{next_url} is not a membership container (no members list).")
        for raw in body["members"]:
            member = _member_parse(raw)
            if isinstance(member, str):
                roster.errors.append(f"skipped {member}")
                continue
            roster.members[member.sub] = member  # a later page wins
        links = link_header_parse(answer.headers.get("Link", ""), answer.url or next_url)
        if links.get("differences"):
            roster.differences_url = links["differences"][:1000]
        next_url = links.get("next")
    return roster


@dataclass
class RosterChanges:
    added: int = 0
    updated: int = 0
    deactivated: int = 0
    seated: int = 0


def roster_apply(
    *, context: LtiContext, roster: Roster, incremental: bool, actor: User | None = None
) -> RosterChanges:
    """Apply a fetched roster to the context's course (caller: one transaction)."""
    registration = context.deployment.registration
    issuer = registration.issuer
    course = context.course
    changes = RosterChanges()
    members = roster.members
    identities = {
        i.sub: i
        for i in LtiIdentity.objects.select_related("user").filter(
            issuer=issuer, sub__in=list(members)
        )
    }
    # New users: bulk-created, like a first launch creates them.
    new_members = [m for sub, m in members.items() if sub not in identities and m.active]
    if new_members:
        emails = {m.email.lower() for m in new_members if m.email}
        # Never link to an existing account by email (as a launch): such an
        # email is not stored. Emails are unique case-insensitively.
        taken = (
            set(
                User.objects.annotate(lowered=Lower("email"))
                .filter(lowered__in=emails)
                .values_list("lowered", flat=True)
            )
            if emails
            else set()
        )
        names = {
            m.sub: "lti-" + hashlib.sha256(f"{issuer}\n{m.sub}".encode()).hexdigest()[:12]
            for m in new_members
        }
        # A username left by a user whose identity is gone: a suffix, not a crash.
        used = set(
            User.objects.filter(username__in=list(names.values())).values_list(
                "username", flat=True
            )
        )
        users = []
        for m in new_members:
            username = names[m.sub]
            digest = username[4:]
            if username in used:
                username = f"{username}-{secrets.token_hex(3)}"
            email = m.email if m.email and m.email.lower() not in taken else ""
            if email:
                taken.add(email.lower())
            user = User(
                username=username,
                email=email,
                display_name=m.name or f"LMS user {digest[:6]}",
                first_name=m.given_name,
                last_name=m.family_name,
            )
            user.set_unusable_password()
            users.append(user)
        User.objects.bulk_create(users, batch_size=500)
        new_identities = [
            LtiIdentity(issuer=issuer, sub=m.sub, user=u, registration=registration)
            for m, u in zip(new_members, users, strict=True)
        ]
        LtiIdentity.objects.bulk_create(new_identities, batch_size=500)
        for identity, user in zip(new_identities, users, strict=True):
            identity.user = user
            identities[identity.sub] = identity
    # Names of known users: only those that changed are written.
    renamed = []
    new_subs = {m.sub for m in new_members}
    for sub, identity in identities.items():
        member = members[sub]
        user = identity.user
        if member.name and user.display_name != member.name and sub not in new_subs:
            user.display_name = member.name
            renamed.append(user)
    if renamed:
        User.objects.bulk_update(renamed, ["display_name"], batch_size=500)
    roles = {
        identities[s].user_id: m.role for s, m in members.items() if m.active and s in identities
    }
    leaving = {
        identities[s].user_id for s, m in members.items() if not m.active and s in identities
    }
    if not incremental:
        # A full roster: every active enrolment of a user of this platform that
        # the roster does not list has left the LMS course.
        present = {identities[s].user_id for s in members if s in identities}
        platform_users = LtiIdentity.objects.filter(issuer=issuer).values("user_id")
        leaving |= set(
            Enrollment.objects.filter(course=course, is_active=True, user_id__in=platform_users)
            .exclude(user_id__in=present)
            .values_list("user_id", flat=True)
        )
    result = enrollment_sync(course=course, roles=roles, deactivate=leaving, actor=actor)
    changes.added = len(result["created"])
    changes.updated = len(result["updated"]) + len({u.pk for u in renamed} - set(result["updated"]))
    changes.deactivated = len(result["deactivated"])
    new_learners = [
        u for u in (*result["created"], *result["updated"]) if roles.get(u) == Role.LEARNER
    ]
    if new_learners and seat_map_get(course_id=course.pk):
        seated = seating_auto(course=course, method="auto_fill", actor=actor)
        changes.seated = seated.moved
    return changes


def _last_differences_url(context: LtiContext) -> str:
    last = (
        RosterSync.objects.filter(context=context, status=RosterSync.Status.OK)
        .exclude(differences_url="")
        .values_list("differences_url", flat=True)
        .first()
    )
    return last or ""


def roster_sync(
    *, context: LtiContext, trigger: str, actor: User | None = None, full: bool = False
) -> RosterSync:
    """Fetch and apply the roster; always returns the RosterSync record
    (status ok or failed with the reason). `full` ignores a differences link."""
    if not context.memberships_url:
        raise LtiError(
            "The LMS did not give a memberships URL for this course (Names and Role "
            "Provisioning is not enabled for the tool).",
            code="lti_no_nrps",
            status=409,
        )
    differences = "" if full else _last_differences_url(context)
    url = differences or context.memberships_url
    record = RosterSync.objects.create(
        context=context, trigger=trigger, source_url=url[:1000], incremental=bool(differences)
    )
    try:
        try:
            roster = roster_fetch(context=context, url=url)
        except ServiceError as error:
            if not differences or not (error.http_status and 400 <= error.http_status < 500):
                raise
            # The platform no longer honours its differences link: full roster.
            log.info("lti: differences link of context %s refused; full sync", context.pk)
            differences, url = "", context.memberships_url
            record.incremental, record.source_url = False, url[:1000]
            roster = roster_fetch(context=context, url=url)
        with transaction.atomic():
            changes = roster_apply(
                context=context, roster=roster, incremental=bool(differences), actor=actor
            )
    except (LtiError, DatabaseError) as error:
        reason = (
            f"{error.code}: {error.reason}"
            if isinstance(error, LtiError)
            else f"database: {error.__class__.__name__}: {str(error)[:300]}"
        )
        record.status = RosterSync.Status.FAILED
        record.errors = [reason]
        record.finished_at = timezone.now()
        record.save()
        log.warning("lti: roster sync of context %s failed: %s", context.pk, reason)
        return record
    record.status = RosterSync.Status.OK
    record.pages = roster.pages
    record.members = len(roster.members)
    record.added, record.updated = changes.added, changes.updated
    record.deactivated, record.seated = changes.deactivated, changes.seated
    record.errors = roster.errors[:100]
    record.differences_url = roster.differences_url
    record.finished_at = timezone.now()
    record.save()
    return record


def roster_sync_on_launch(*, context: LtiContext) -> bool:
    """Queue a sync after this launch's transaction commits, at most once per
    LAUNCH_SYNC_INTERVAL per context (an atomic UPDATE decides)."""
    if not context.memberships_url:
        return False
    now = timezone.now()
    won = LtiContext.objects.filter(
        Q(roster_sync_requested_at__isnull=True)
        | Q(roster_sync_requested_at__lt=now - LAUNCH_SYNC_INTERVAL),
        pk=context.pk,
    ).update(roster_sync_requested_at=now)
    if not won:
        return False
    from lti.tasks import enqueue, roster_sync_task

    transaction.on_commit(lambda: enqueue(roster_sync_task, context.pk, RosterSync.Trigger.LAUNCH))
    return True
