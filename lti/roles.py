"""LTI roles → Roundtable course roles (docs/lms.md has the table).

Context (membership) roles decide; institution and system roles are a
fallback when the launch carries no context role. Full URIs, LTI 1.1 URNs,
short forms (`Instructor`) and sub-roles (`membership/Instructor#TeachingAssistant`)
are all read. No recognised role means learner: the least privileged role
that can take part (observers cannot).
"""

from __future__ import annotations

from courses.models import Role

_CONTEXT = {
    "instructor": Role.INSTRUCTOR,
    "administrator": Role.INSTRUCTOR,
    "teachingassistant": Role.TA,
    "contentdeveloper": Role.TA,
    "learner": Role.LEARNER,
    "student": Role.LEARNER,
    "mentor": Role.OBSERVER,
    "observer": Role.OBSERVER,
    "member": Role.LEARNER,
    "manager": Role.INSTRUCTOR,
}
_INSTITUTION = {
    "faculty": Role.INSTRUCTOR,
    "instructor": Role.INSTRUCTOR,
    "administrator": Role.INSTRUCTOR,
    "sysadmin": Role.INSTRUCTOR,
    "staff": Role.TA,
    "student": Role.LEARNER,
    "learner": Role.LEARNER,
    "mentor": Role.OBSERVER,
    "observer": Role.OBSERVER,
}
_PRIORITY = [Role.INSTRUCTOR, Role.TA, Role.LEARNER, Role.OBSERVER]


def _parse(uri: str) -> tuple[str, str]:
    """(kind, name): kind is "context", "institution" or "system"."""
    value = uri.strip()
    lowered = value.lower()
    if "/institution/" in lowered or ":lis/institution" in lowered:
        kind = "institution"
    elif "/system/" in lowered or "sysrole" in lowered:
        kind = "system"
    else:
        kind = "context"
    if "/membership/" in lowered and "#" in value:
        # A sub-role: membership/Instructor#TeachingAssistant
        parent, sub = value.rsplit("/", 1)[1].split("#", 1)
        name = sub if sub.lower() == "teachingassistant" else parent
        return kind, name.lower()
    name = value.rsplit("#", 1)[-1].rsplit("/", 1)[-1]
    return kind, name.lower()


def role_map(roles: list) -> str:
    found: dict[str, set[str]] = {"context": set(), "institution": set(), "system": set()}
    for uri in roles:
        if not isinstance(uri, str) or not uri.strip():
            continue
        kind, name = _parse(uri)
        table = _CONTEXT if kind == "context" else _INSTITUTION
        if name in table:
            found[kind].add(table[name])
    for kind in ("context", "institution", "system"):
        if found[kind]:
            return next(role for role in _PRIORITY if role in found[kind])
    return Role.LEARNER
