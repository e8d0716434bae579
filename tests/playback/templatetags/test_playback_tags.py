"""playback/templatetags/playback_tags.py: the `media_clock` filter."""

from __future__ import annotations

import pytest
from django.template import Context, Template

from playback.templatetags.playback_tags import media_clock


@pytest.mark.parametrize(
    ("ms", "shown"),
    [(0, "0:00"), (65_000, "1:05"), (3_723_000, "1:02:03"), ("5999", "0:05"), (None, "")],
)
def test_milliseconds_read_as_a_clock(ms, shown):
    assert media_clock(ms) == shown


@pytest.mark.parametrize("ms", ["soon", [], object()])
def test_what_is_not_a_number_shows_nothing(ms):
    assert media_clock(ms) == ""


def test_the_filter_is_registered_for_templates():
    rendered = Template("{% load playback_tags %}{{ at|media_clock }}").render(
        Context({"at": 125_000})
    )
    assert rendered == "2:05"
