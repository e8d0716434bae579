"""`{% notification_bell %}`: the header's bell (templates/base.html)."""

from __future__ import annotations

from django import template

from notifications.selectors import unread_count_get

register = template.Library()


@register.inclusion_tag("notifications/_bell.html", takes_context=True)
def notification_bell(context) -> dict:
    user = context["request"].user
    return {"user_id": user.pk, "unread_count": unread_count_get(user_id=user.pk)}
