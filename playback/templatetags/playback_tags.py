from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def media_clock(ms) -> str:
    """Milliseconds as 1:05 or 1:02:03."""
    from playback.views import clock

    try:
        return clock(int(ms))
    except (TypeError, ValueError):
        return ""
