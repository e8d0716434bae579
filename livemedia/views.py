"""HTTP side of the media plane: the Janus event-handler intake and the media page."""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
from datetime import UTC, datetime

from asgiref.sync import sync_to_async
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from classroom.access import access_live_session
from core import realtime
from core.errors import NotFoundError
from livemedia import services
from livemedia.conf import FIX_COMMAND, LEARNER_MEDIA_OFF, janus_installed, media_conf

logger = logging.getLogger(__name__)

JANUS_PLUGIN_EVENT = 64
TALK_EVENTS = {"talking": True, "stopped-talking": False}
MAX_BODY = 2 * 1024 * 1024


def _authorized(request: HttpRequest) -> bool:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Basic "):
        return False
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return user == "janus" and hmac.compare_digest(password, media_conf().events_secret)


def talk_events_parse(payload) -> list[tuple[int, int, bool, datetime]]:
    """(session, user, talking, at) for every talk event of a Janus event batch."""
    events = payload if isinstance(payload, list) else [payload]
    found = []
    for event in events:
        if not isinstance(event, dict) or event.get("type") != JANUS_PLUGIN_EVENT:
            continue
        body = event.get("event") or {}
        data = body.get("data") or {}
        if body.get("plugin") != "janus.plugin.videoroom" or not isinstance(data, dict):
            continue
        talking = TALK_EVENTS.get(data.get("videoroom") or data.get("event"))
        if talking is None:
            continue
        session_id = services.session_for_room(str(data.get("room", "")))
        user_id = services.feed_user(str(data.get("id", "")))
        if session_id is None or user_id is None:
            continue
        micros = event.get("timestamp")
        at = (
            datetime.fromtimestamp(micros / 1_000_000, tz=UTC)
            if isinstance(micros, int)
            else datetime.now(tz=UTC)
        )
        found.append((session_id, user_id, talking, at))
    return found


@csrf_exempt
async def janus_events(request: HttpRequest) -> HttpResponse:
    """POSTed by Janus's HTTP event handler (basic auth `janus:<JANUS_EVENTS_SECRET>`)."""
    if request.method != "POST":
        return HttpResponse(status=405)
    if not _authorized(request):
        return HttpResponse(status=401)
    if len(request.body) > MAX_BODY:
        return HttpResponse(status=413)
    try:
        payload = json.loads(request.body)
    except ValueError:
        return HttpResponse(status=400)
    sessions = set()
    for session_id, user_id, talking, at in talk_events_parse(payload):
        await sync_to_async(services.talk_event_apply)(
            session_id=session_id, user_id=user_id, talking=talking, at=at
        )
        sessions.add(session_id)
    for session_id in sessions:
        await realtime.coalesce(
            f"talk:{session_id}",
            services.TALK_FLUSH_DELAY,
            lambda session_id=session_id: services.talk_changed_flush(session_id),
        )
    return HttpResponse(status=200)  # the sample handler retransmits on anything else


def media_status(*, for_staff: bool = True) -> dict:
    """What pages say about audio and video on this installation. How to turn
    media on is for the people who run the course; learners get one plain line."""
    status = _media_status()
    if not status["available"] and not for_staff:
        return {"available": False, "reason": LEARNER_MEDIA_OFF, "fix": ""}
    return status


def _media_status() -> dict:
    conf = media_conf()
    if not conf.enabled:
        return {
            "available": False,
            "reason": "Audio and video are turned off (JANUS_ENABLED=false).",
            "fix": "",
        }
    if not janus_installed() and "127.0.0.1" in conf.url:
        return {
            "available": False,
            "reason": "Audio and video are off: the Janus media server is not installed.",
            "fix": FIX_COMMAND,
        }
    return {"available": True, "reason": "", "fix": ""}


@login_required
@require_GET
def media_room(request: HttpRequest, session_id: int) -> HttpResponse:
    """A page with just the media of a session: pre-join check, tiles, controls."""
    try:
        access = access_live_session(user=request.user, session_id=session_id)
    except NotFoundError as error:
        raise Http404(error.message) from error
    return render(
        request,
        "classroom/media/room.html",
        {
            "session": access.session,
            "course": access.session.course,
            "media_config": media_page_config(access),
        },
    )


def media_page_config(access) -> dict:
    """What a page embedding the media module passes it (json_script "media-config")."""
    return {
        "ws_path": f"/ws/media/{access.session.pk}/",
        "session_id": access.session.pk,
        "is_staff": access.is_staff,
        "status": media_status(for_staff=access.is_staff),
    }


@require_GET
def media_health(request: HttpRequest) -> JsonResponse:
    return JsonResponse(media_status())
