from __future__ import annotations

from django import template

from playback.views import clock

register = template.Library()


@register.filter
def media_clock(ms) -> str:
    """Milliseconds as 1:05 or 1:02:03."""
    try:
        return clock(int(ms))
    except (TypeError, ValueError):
        return ""
