"""The verb registry (analytics/verbs.py): what `event_record` refuses, and
docs/events.md, whose tables are generated from the registry and must match it
both ways."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from analytics.models import LearningEvent
from analytics.services import event_record, events_record_many
from analytics.verbs import OBJECT_TYPES, VERBS, event_problems
from core.errors import ValidationError

DOC = Path(__file__).resolve().parents[2] / "docs" / "events.md"
START, END = "<!-- registry:start -->", "<!-- registry:end -->"


def registry_markdown() -> str:
    """The docs/events.md tables, from the registry."""
    lines = ["| Verb | IRI | Object types | Extensions | Meaning |", "|---|---|---|---|---|"]
    for verb in sorted(VERBS.values(), key=lambda v: v.name):
        extensions = "<br>".join(
            f"`{ext.key}`{'' if ext.required else '?'}: {ext.type_label()}"
            for ext in verb.extensions
        )
        objects = ", ".join(f"`{name}`" for name in verb.object_types)
        lines.append(
            f"| `{verb.name}` | `{verb.iri}` | {objects} | {extensions or '—'} "
            f"| {verb.description} |"
        )
    lines += ["", "| Object type | Meaning |", "|---|---|"]
    lines += [f"| `{name}` | {text} |" for name, text in sorted(OBJECT_TYPES.items())]
    return "\n".join(lines)


def _documented() -> str:
    text = DOC.read_text()
    assert START in text and END in text, f"{DOC} lost its registry markers"
    return text.split(START, 1)[1].split(END, 1)[0].strip()


def test_the_doc_lists_every_registered_verb_and_nothing_else():
    documented = set(re.findall(r"^\| `([a-z_.]+)` \| `", _documented(), flags=re.M))
    assert documented - set(VERBS) == set(), "documented but not registered"
    assert set(VERBS) - documented == set(), "registered but not documented"


def test_the_doc_tables_are_the_registry_s_own():
    assert _documented() == registry_markdown(), (
        "docs/events.md is stale: paste registry_markdown() of "
        "tests/analytics/test_verbs.py between its registry markers"
    )


def test_every_registered_object_type_is_described_and_used():
    used = {name for verb in VERBS.values() for name in verb.object_types}
    assert used == set(OBJECT_TYPES)


def test_every_verb_has_an_iri_and_a_meaning():
    for verb in VERBS.values():
        assert re.match(r"^(https?://|urn:roundtable:verb:)\S+$", verb.iri), verb.name
        assert verb.iri.rstrip("/").endswith(verb.name), verb.name
        assert verb.description.endswith("."), verb.name


def test_a_valid_event_has_no_problems():
    assert (
        event_problems(
            verb="seated",
            object_type="table",
            extensions={"method": "self", "by": None, "from_table": 3},
        )
        == {}
    )


@pytest.mark.parametrize(
    ("event", "field", "words"),
    [
        ({"verb": "danced", "object_type": "live_session", "extensions": {}}, "verb", "Unknown"),
        ({"verb": "joined", "object_type": "poll", "extensions": {}}, "object_type", "poll"),
        (
            {"verb": "reacted", "object_type": "live_session", "extensions": {}},
            "extensions",
            "missing keys: reaction",
        ),
        (
            {
                "verb": "reacted",
                "object_type": "live_session",
                "extensions": {"reaction": "x", "mood": 1},
            },
            "extensions",
            "unknown keys for 'reacted': mood",
        ),
        (
            {
                "verb": "lowered_all_hands",
                "object_type": "live_session",
                "extensions": {"count": "2"},
            },
            "extensions",
            "'count' must be integer",
        ),
        (
            {
                "verb": "lowered_all_hands",
                "object_type": "live_session",
                "extensions": {"count": True},
            },
            "extensions",
            "'count' must be integer",
        ),
    ],
)
def test_problems_name_the_field_and_the_fix(event, field, words):
    problems = event_problems(**event)
    assert set(problems) == {field}
    assert words in problems[field]


def test_an_int_is_a_valid_number_but_not_a_valid_boolean():
    assert not event_problems(
        verb="changed_rate",
        object_type="recording",
        extensions={"room_id": 1, "room_kind": "group", "rate": 2},
    )
    assert "extensions" in event_problems(
        verb="asked", object_type="question", extensions={"anonymous": 1}
    )


@pytest.mark.django_db
def test_event_record_refuses_an_unregistered_verb_and_stores_nothing(course, settings):
    settings.ANALYTICS_EVENTS_STRICT = True
    with pytest.raises(ValidationError) as error:
        event_record(verb="danced", object_type="live_session", course=course)
    assert "analytics/verbs.py" in error.value.details["verb"]
    assert not LearningEvent.objects.exists()


@pytest.mark.django_db
def test_events_record_many_checks_the_registry_too(course, settings):
    from django.utils import timezone

    settings.ANALYTICS_EVENTS_STRICT = True
    row = {
        "event_id": "0d9c9a6e-3f9b-4a43-9f39-0a5b8d9d7a11",
        "occurred_at": timezone.now(),
        "verb": "reacted",
        "object_type": "live_session",
        "course_id": course.pk,
        "extensions": {"emoji": "clap"},
    }
    with pytest.raises(ValidationError) as error:
        events_record_many([row])
    assert "emoji" in error.value.details["extensions"]
    assert not LearningEvent.objects.exists()


@pytest.mark.django_db
def test_production_stores_an_unregistered_event_and_logs_it(course, settings, caplog):
    settings.ANALYTICS_EVENTS_STRICT = False
    event, created = event_record(
        verb="danced", object_type="live_session", course=course, extensions={"style": "waltz"}
    )
    assert created and event.verb == "danced"
    assert "unregistered event shape danced" in caplog.text


def test_strict_is_the_default_outside_production():
    from django.conf import settings

    assert settings.ANALYTICS_EVENTS_STRICT is True
