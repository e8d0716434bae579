"""core/text.py: what counts as visible text and as a control character."""

from __future__ import annotations

import pytest

from core.text import text_has_control, text_visible


@pytest.mark.parametrize("text", ["a", " 1 ", "!", "€", "日本", "\u200bx"])
def test_text_with_something_to_see_is_visible(text):
    assert text_visible(text)


@pytest.mark.parametrize("text", ["", "   ", "\u200b", "\u200b\u200d\t\n", "\u202e"])
def test_blank_and_invisible_format_characters_are_not(text):
    assert not text_visible(text)


@pytest.mark.parametrize("text", ["a\x00b", "\x1b[31m", "line\nbreak", "tab\there"])
def test_control_characters_are_found(text):
    assert text_has_control(text)


def test_bidi_overrides_count_only_when_asked():
    spoofed = "admin\u202etxt.exe"
    assert not text_has_control(spoofed)
    assert text_has_control(spoofed, bidi=True)
    assert not text_has_control("plain name", bidi=True)
