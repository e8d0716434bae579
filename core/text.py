"""Checks on text people type that others will see."""

from __future__ import annotations

import unicodedata

# Bidirectional embeddings, overrides and isolates: they can make one name
# display as another.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def text_visible(text: str) -> bool:
    """At least one letter, digit, punctuation mark or symbol: not only
    spaces and invisible format characters such as U+200B."""
    return any(unicodedata.category(char)[0] in "LNPS" for char in text)


def text_has_control(text: str, *, bidi: bool = False) -> bool:
    """A control character (NUL, escape, …), or with `bidi` a bidirectional
    override. Line breaks and tabs count as control characters too: use this
    for one-line names and titles only."""
    return any(
        unicodedata.category(char) == "Cc" or (bidi and char in BIDI_CONTROLS) for char in text
    )
