"""Pages of the notifications app: my notifications, opening one (the
redirect that records the open), my preferences, and the unsubscribe page a
signed link leads to (no login). Parse → access → service or selector →
template."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import ApplicationError, NotFoundError
from notifications.access import access_notification
from notifications.channels import CHANNELS
from notifications.kinds import FREQUENCIES, FREQUENCY_LABELS, kind_get
from notifications.selectors import kind_label, notifications_list, preferences_get
from notifications.services.notifications import (
    notification_open,
    notification_read,
    notifications_read_all,
)
from notifications.services.preferences import preferences_update, unsubscribe_apply
from notifications.unsubscribe import unsubscribe_token_read

PAGE_SIZE = 20


def _own(request: HttpRequest, notification_id: int):
    try:
        return access_notification(user=request.user, notification_id=notification_id)
    except NotFoundError as error:
        raise Http404(error.message) from error


@login_required
@require_GET
def notification_list(request: HttpRequest) -> HttpResponse:
    unread_only = request.GET.get("filter") == "unread"
    page = Paginator(
        notifications_list(user=request.user, unread_only=unread_only), PAGE_SIZE
    ).get_page(request.GET.get("page"))
    items = [{"notification": n, "kind_label": kind_label(n.kind)} for n in page.object_list]
    return render(
        request,
        "notifications/list.html",
        {"page": page, "items": items, "unread_only": unread_only},
    )


@login_required
@require_GET
def notification_open_view(request: HttpRequest, notification_id: int) -> HttpResponse:
    """Follow a notification's link: it counts as opened (never a pixel)."""
    notification = _own(request, notification_id)
    via = "email" if request.GET.get("via") == "email" else "in_app"
    notification_open(notification=notification, via=via)
    return redirect(notification.url)


@login_required
@require_POST
def notification_read_view(request: HttpRequest, notification_id: int) -> HttpResponse:
    notification_read(notification=_own(request, notification_id))
    return redirect(request.POST.get("next") or "notifications:list")


@login_required
@require_POST
def notifications_read_all_view(request: HttpRequest) -> HttpResponse:
    count = notifications_read_all(user=request.user)
    messages.success(request, _("Marked %(count)s as read.") % {"count": count})
    return redirect("notifications:list")


def _grid(preferences: dict) -> list[dict]:
    rows = []
    for kind in preferences["kinds"]:
        cells = []
        for channel in CHANNELS.values():
            cells.append(
                {
                    "channel": channel,
                    "frequency": kind["channels"].get(channel.key),
                    "name": f"{kind['kind']}::{channel.key}",
                }
            )
        rows.append({**kind, "cells": cells})
    return rows


@login_required
@require_http_methods(["GET", "POST"])
def preferences_view(request: HttpRequest) -> HttpResponse:
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        kinds: dict[str, dict[str, str]] = {}
        for name, value in request.POST.items():
            kind, sep, channel = name.partition("::")
            if sep and kind_get(kind) is not None:
                kinds.setdefault(kind, {})[channel] = value
        cap = request.POST.get("daily_cap", "").strip()
        try:
            preferences_update(
                user=request.user,
                kinds=kinds,
                quiet_hours={
                    "enabled": request.POST.get("quiet_enabled") == "on",
                    "start": request.POST.get("quiet_start", ""),
                    "end": request.POST.get("quiet_end", ""),
                },
                daily_cap=int(cap) if cap.isdigit() else cap or None,
            )
        except ApplicationError as error:
            errors["form"] = error.message
            status = 400
        else:
            messages.success(request, _("Notification settings saved."))
            return redirect("notifications:preferences")
    preferences = preferences_get(user=request.user)
    context = {
        "preferences": preferences,
        "rows": _grid(preferences),
        "channels": list(CHANNELS.values()),
        "frequencies": [(key, FREQUENCY_LABELS[key]) for key in FREQUENCIES],
        "errors": errors,
    }
    return render(request, "notifications/preferences.html", context, status=status)


@csrf_exempt  # the signed token is the authority; mail providers POST without a session
@require_http_methods(["GET", "POST"])
def unsubscribe_view(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows one button (link scanners fetch links; RFC 8058), POST — the
    button, or a mail client's `List-Unsubscribe-Post` — turns the kinds off
    at once."""
    try:
        if request.method == "POST":
            user, kinds = unsubscribe_apply(token=token)
            done = True
        else:
            unsubscribe = unsubscribe_token_read(token)
            kinds = [key for key in unsubscribe.kinds if kind_get(key) is not None]
            done = False
    except ApplicationError as error:
        return render(
            request,
            "notifications/unsubscribe.html",
            {"error": error.message},
            status=error.status_code,
        )
    return render(
        request,
        "notifications/unsubscribe.html",
        {"done": done, "labels": [kind_label(key) for key in kinds]},
    )
