"""Question definitions and grading: pure functions, no live room.

Used by the live polls (classroom/services/polls.py), the replayed polls of
playback (playback/services/answers.py) and anything else that grades an
answer to a question (reinforcement). A question is anything `Gradable`: a
`BankQuestion`, a launched `classroom.Poll` (its frozen copy), a replay.
"""

from __future__ import annotations

import math
import re
import unicodedata
from typing import Any, Protocol

from django.utils.translation import gettext as _

from core.errors import ValidationError
from core.text import text_visible
from questions.models import PollKind


class Gradable(Protocol):
    kind: str
    definition: dict
    points: int
    is_quiz: bool


OPTIONS_MIN, OPTIONS_MAX = 2, 10
OPTION_ID_MAX = 40
TEXT_ANSWER_MAX = 2000
ACCEPTED_MAX = 50  # accepted answers of a short-text question
PROMPT_MAX = 500
POLL_TIMER_MAX_SECONDS = 3600
FIXED_OPTIONS = {
    PollKind.TRUE_FALSE: [{"id": "true", "text": "True"}, {"id": "false", "text": "False"}],
    PollKind.YES_NO_ABSTAIN: [
        {"id": "yes", "text": "Yes"},
        {"id": "no", "text": "No"},
        {"id": "abstain", "text": "Abstain"},
    ],
}
CHOICE_KINDS = {PollKind.SINGLE, PollKind.MULTIPLE, PollKind.TRUE_FALSE, PollKind.YES_NO_ABSTAIN}


def invalid_field(field: str, message: str, code: str = "invalid_poll") -> ValidationError:
    return ValidationError(message, code=code, details={field: message})


# --- Definitions ------------------------------------------------------------------------


def definition_clean(*, kind: str, definition: dict[str, Any]) -> dict[str, Any]:
    """Validate and normalise a question's kind-specific fields.

    single/multiple: options [{id?, text}] (2-10), correct [ids] (optional; quiz)
    true_false/yes_no_abstain: fixed options, correct [ids] (optional)
    rating: scale 5 or 10
    short_text: accepted [texts] (optional; quiz)
    numeric: correct_value (optional; quiz), tolerance >= 0
    """
    if kind not in PollKind.values:
        raise invalid_field("kind", _("Unknown question type."))
    if not isinstance(definition, dict):
        raise invalid_field("definition", _("The question definition must be an object."))
    clean: dict[str, Any] = {}
    if kind in (PollKind.SINGLE, PollKind.MULTIPLE):
        options = definition.get("options")
        if not isinstance(options, list) or not OPTIONS_MIN <= len(options) <= OPTIONS_MAX:
            raise invalid_field("options", _("A choice question has 2 to 10 options."))
        clean_options, seen = [], set()
        for index, option in enumerate(options):
            text = option.get("text") if isinstance(option, dict) else option
            if not isinstance(text, str) or not text.strip() or len(text) > 300:
                raise invalid_field(
                    "options",
                    _("Option %(n)d needs a text of 1 to 300 characters.") % {"n": index + 1},
                )
            raw_id = option.get("id") if isinstance(option, dict) else None
            if raw_id is not None and raw_id != "" and not _option_id_like(raw_id):
                raise invalid_field("options", _("Option ids are texts."))
            option_id = str(raw_id) if raw_id else chr(97 + index)
            if len(option_id) > OPTION_ID_MAX:
                raise invalid_field(
                    "options",
                    _("Option ids have at most %(n)d characters.") % {"n": OPTION_ID_MAX},
                )
            if option_id in seen:
                raise invalid_field("options", _("Option ids must be unique."))
            seen.add(option_id)
            clean_options.append({"id": option_id, "text": text.strip()})
        clean["options"] = clean_options
        if kind == PollKind.MULTIPLE and definition.get("max_choices") is not None:
            max_choices = definition["max_choices"]
            if not _whole(max_choices) or not 1 <= max_choices <= len(clean_options):
                raise invalid_field(
                    "max_choices", _("Max choices must be between 1 and the number of options.")
                )
            clean["max_choices"] = max_choices
    elif kind in FIXED_OPTIONS:
        clean["options"] = FIXED_OPTIONS[kind]
    if kind in CHOICE_KINDS:
        ids = {option["id"] for option in clean["options"]}
        correct = definition.get("correct") or []
        if not isinstance(correct, list) or any(
            not _option_id_like(c) or str(c) not in ids for c in correct
        ):
            raise invalid_field("correct", _("Correct answers must be ids of the options."))
        if kind != PollKind.MULTIPLE and len(correct) > 1:
            raise invalid_field("correct", _("This type has one correct answer."))
        clean["correct"] = [str(c) for c in correct]
    elif kind == PollKind.RATING:
        scale = definition.get("scale", 5)
        if not _whole(scale) or scale not in (5, 10):
            raise invalid_field("scale", _("A rating scale runs 1-5 or 1-10."))
        clean["scale"] = scale
    elif kind == PollKind.SHORT_TEXT:
        accepted = definition.get("accepted") or []
        if not isinstance(accepted, list) or any(
            not isinstance(a, str) or not a.strip() for a in accepted
        ):
            raise invalid_field("accepted", _("Accepted answers must be non-empty texts."))
        if len(accepted) > ACCEPTED_MAX:
            raise invalid_field(
                "accepted", _("At most %(n)d accepted answers.") % {"n": ACCEPTED_MAX}
            )
        if any(len(a.strip()) > TEXT_ANSWER_MAX for a in accepted):
            raise invalid_field(
                "accepted",
                _("An accepted answer has at most %(n)d characters.") % {"n": TEXT_ANSWER_MAX},
            )
        clean["accepted"] = [a.strip() for a in accepted]
    elif kind == PollKind.NUMERIC:
        value = definition.get("correct_value")
        tolerance = definition.get("tolerance", 0)
        if value is not None and not _finite(value):
            raise invalid_field(
                "correct_value",
                _("The correct value must be a number between -10^15 and 10^15."),
            )
        if not _finite(tolerance) or tolerance < 0:
            raise invalid_field("tolerance", _("The tolerance must be zero or a positive number."))
        clean["correct_value"] = value
        clean["tolerance"] = tolerance
    return clean


NUMERIC_LIMIT = (
    1e15  # numeric answers and keys: |x| <= 10^15, so sums and means stay exact enough and finite
)


def _finite(value) -> bool:
    """A real number a numeric question may hold: not a boolean, not NaN or
    infinite, and no larger than NUMERIC_LIMIT (an int of 400 digits cannot
    even become a float; 1e308 twice overflows the mean)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value) and abs(value) <= NUMERIC_LIMIT
    except OverflowError:
        return False


def _option_id_like(value) -> bool:
    """An option id as a client may send it: a text, or a whole number (ids
    are compared as text). An object, a list or a boolean is not one: its
    string form ("{'a': 1}") must never be stored as an answer."""
    return isinstance(value, str) or _whole(value)


def _whole(value) -> bool:
    """An int, not a bool (True == 1) and not a float (5.0 == 5)."""
    return isinstance(value, int) and not isinstance(value, bool)


def points_clean(points) -> int:
    if not _whole(points) or not 0 <= points <= 100:
        raise invalid_field("points", _("Points run from 0 to 100."))
    return points


def has_correct_answer(kind: str, definition: dict) -> bool:
    if kind in CHOICE_KINDS:
        return bool(definition.get("correct"))
    if kind == PollKind.SHORT_TEXT:
        return bool(definition.get("accepted"))
    if kind == PollKind.NUMERIC:
        return definition.get("correct_value") is not None
    return False


def normalise_text(text: str) -> str:
    """Group typed answers: case, accents-compatible forms, punctuation and
    spacing do not matter ("  Mitochondria!" == "mitochondria")."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = re.sub(r"[^\w\s]", "", text)
    return re.sub(r"\s+", " ", text).strip()


def answer_clean(*, question: Gradable, answer: Any) -> dict[str, Any]:
    """Validate a learner's answer against the question (a live poll, a
    replayed one, a bank question); returns its stored form."""
    if not isinstance(answer, dict):
        raise invalid_field("answer", _("The answer must be an object."), "invalid_answer")
    kind, definition = question.kind, question.definition
    if kind in CHOICE_KINDS:
        ids = [option["id"] for option in definition["options"]]
        if kind == PollKind.MULTIPLE:
            chosen = answer.get("options")
            if not isinstance(chosen, list) or not chosen:
                raise invalid_field("options", _("Choose at least one option."), "invalid_answer")
            if not all(_option_id_like(c) for c in chosen):
                raise invalid_field("options", _("Option ids are texts."), "invalid_answer")
            chosen = [str(c) for c in chosen]
            if len(set(chosen)) != len(chosen) or any(c not in ids for c in chosen):
                raise invalid_field("options", _("Unknown or repeated option."), "invalid_answer")
            limit = definition.get("max_choices", len(ids))
            if len(chosen) > limit:
                raise invalid_field(
                    "options", _("Choose at most %(n)d options.") % {"n": limit}, "invalid_answer"
                )
            return {"options": sorted(chosen, key=ids.index)}
        chosen = answer.get("option")
        if not _option_id_like(chosen):
            raise invalid_field("option", _("An option id is a text."), "invalid_answer")
        if str(chosen) not in ids:
            raise invalid_field("option", _("Unknown option."), "invalid_answer")
        return {"option": str(chosen)}
    if kind == PollKind.RATING:
        value = answer.get("value")
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or not 1 <= value <= definition["scale"]
        ):
            raise invalid_field(
                "value",
                _("Choose a whole number from 1 to %(n)d.") % {"n": definition["scale"]},
                "invalid_answer",
            )
        return {"value": value}
    if kind == PollKind.SHORT_TEXT:
        text = answer.get("text")
        if not isinstance(text, str) or not text_visible(text):
            raise invalid_field("text", _("The answer is empty."), "invalid_answer")
        if len(text) > TEXT_ANSWER_MAX:
            raise invalid_field(
                "text",
                _("An answer has at most %(n)d characters.") % {"n": TEXT_ANSWER_MAX},
                "invalid_answer",
            )
        return {"text": text.strip()}
    value = answer.get("value")
    if not _finite(value):
        raise invalid_field(
            "value",
            _("The answer must be a number between -10^15 and 10^15."),
            "invalid_answer",
        )
    return {"value": value}


def answer_grade(*, question: Gradable, answer: dict) -> tuple[bool | None, float | None]:
    """(correct, score) of a cleaned answer; (None, None) where nothing is graded."""
    if not question.is_quiz:
        return None, None
    definition = question.definition
    if question.kind in CHOICE_KINDS:
        chosen = set(answer.get("options") or [answer.get("option")])
        correct = chosen == set(definition["correct"])
    elif question.kind == PollKind.SHORT_TEXT:
        correct = normalise_text(answer["text"]) in {
            normalise_text(a) for a in definition["accepted"]
        }
    elif question.kind == PollKind.NUMERIC:
        correct = abs(answer["value"] - definition["correct_value"]) <= definition["tolerance"]
    else:
        return None, None
    return correct, float(question.points) if correct else 0.0


def response_text(answer: dict) -> str:
    """A cleaned answer as the event log's `response` text."""
    if "options" in answer:
        return ",".join(answer["options"])
    if "option" in answer:
        return answer["option"]
    return str(answer.get("text", answer.get("value", "")))
