from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def ms_seconds(ms) -> str:
    """Milliseconds as seconds for the editor's fields: 12500 -> "12.5"."""
    try:
        value = int(ms)
    except (TypeError, ValueError):
        return ""
    text = f"{value / 1000:.3f}".rstrip("0").rstrip(".")
    return text or "0"


@register.filter
def ms_floor_seconds(ms) -> int:
    """Whole seconds at or before `ms` (a link that starts playback there)."""
    try:
        return max(0, int(ms) // 1000)
    except (TypeError, ValueError):
        return 0
