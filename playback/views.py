"""Pages of the playback app: a course's recordings (and staff uploads), a
recording's page (watch alone, with my table, or with invited people), the
player of a room, staff settings and analytics, the media file itself and
the Markdown export of my notes. Parse → access → service or selector →
template."""

from __future__ import annotations

import re

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from classroom.models import LiveSession
from core.errors import (
    ApplicationError,
    NotAuthenticatedError,
    NotFoundError,
    PermissionDeniedError,
)
from core.middleware import reads_own_body
from courses.access import CourseAction, access_course
from courses.models import Enrollment
from playback import hooks, selectors
from playback.access import access_playback_room, access_recording
from playback.models import RecordingStatus
from playback.services import notes, rooms
from playback.services.recordings import (
    recording_settings_get,
    recording_settings_update,
    recording_upload,
    upload_max_bytes,
)
from playback.services.timeline import recording_timeline_build_on_commit
from playback.serving import recording_file_response
from playback.uploads import upload_body_check, upload_check


def _page_access(fetch, **kwargs):
    """Access for a page: outsiders get the 404 page, too-weak roles the 403 page."""
    try:
        return fetch(**kwargs)
    except NotFoundError as error:
        raise Http404(error.message) from error


def _forbidden(request: HttpRequest, message: str) -> HttpResponse:
    return render(request, "403.html", {"message": message}, status=403)


def clock(ms: int | None) -> str:
    if ms is None:
        return ""
    seconds = int(ms) // 1000
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


_CLOCK = re.compile(r"^\s*(?:(\d+):)?(\d{1,2}):(\d{1,2}(?:\.\d+)?)\s*$")


CLOCK_MAX_SECONDS = 7 * 24 * 3600  # no recording is a week long


def parse_clock(text: str) -> int | None:
    """'1:02:03', '2:03', '123' or '123.5' → milliseconds; '' → None."""
    text = (text or "").strip()
    if not text:
        return None
    match = _CLOCK.match(text)
    try:
        if match:
            hours, minutes, seconds = match.groups()
            total = int(hours or 0) * 3600 + int(minutes) * 60 + float(seconds)
        else:
            total = float(text)
    except ValueError:
        raise ValueError(text) from None
    if not 0 <= total <= CLOCK_MAX_SECONDS:  # also NaN and inf
        raise ValueError(text)
    return int(round(total * 1000))


def _whole(value: str | None) -> int | None:
    """A form or query value as a database id or count: ASCII digits only
    (str.isdigit also accepts '²', which int() refuses), at most 18 of them."""
    value = (value or "").strip()
    if value and len(value) <= 18 and value.isascii() and value.isdigit():
        return int(value)
    return None


# --- A course's recordings -----------------------------------------------------------------


@login_required
@require_GET
def course_recordings(request: HttpRequest, course_id: int) -> HttpResponse:
    try:
        access = access_course(user=request.user, course_id=course_id)
    except (NotFoundError, PermissionDeniedError) as error:
        raise Http404(error.message) from error
    return _recordings_page(request, access)


def _recordings_page(request, access, *, errors=None, values=None, status=200) -> HttpResponse:
    context = {
        "access": access,
        "course": access.course,
        "items": selectors.recording_list_get(
            course=access.course, user=request.user, is_staff=access.is_staff
        ),
        "sessions": LiveSession.objects.filter(course=access.course).order_by("-scheduled_start")
        if access.is_staff
        else [],
        "errors": errors or {},
        "values": values or {},
        "max_size": _size_label(upload_max_bytes()),
    }
    return render(request, "playback/recordings.html", context, status=status)


def _size_label(size: int) -> str:
    if size >= 1024**3 and size % 1024**3 == 0:
        return f"{size // 1024**3} GB"
    return f"{max(1, size // 1024**2)} MB"


@reads_own_body
@csrf_exempt
@login_required
@require_POST
def course_recording_upload(request: HttpRequest, course_id: int) -> HttpResponse:
    """Refused before the body is read: who may upload (403), the body's type
    (400) and declared size (413). Then the CSRF check (which reads the form,
    size-limited) and the upload (playback/uploads.py)."""
    try:
        access = access_course(user=request.user, course_id=course_id)
    except (NotFoundError, PermissionDeniedError) as error:
        raise Http404(error.message) from error
    if not access.may(CourseAction.TEACH):
        return _forbidden(request, _("Only staff can upload recordings."))
    try:
        upload_body_check(request)
    except ApplicationError as error:
        return _recordings_page(
            request, access, errors={"file": error.message}, status=error.status_code
        )
    return _upload(request, access)


@csrf_protect
def _upload(request: HttpRequest, access) -> HttpResponse:
    values = {
        "title": request.POST.get("title", ""),
        "session": request.POST.get("live_session", ""),
    }
    try:
        upload_check(request)
        session_id = int(values["session"]) if values["session"] else None
        recording = recording_upload(
            course=access.course,
            actor=request.user,
            uploaded=request.FILES.get("file"),
            title=values["title"],
            live_session_id=session_id,
        )
    except ValueError:
        return _recordings_page(
            request,
            access,
            errors={"live_session": _("Choose a session.")},
            values=values,
            status=400,
        )
    except ApplicationError as error:
        errors = {key: str(value) for key, value in error.details.items()} or {
            "file": error.message
        }
        return _recordings_page(
            request, access, errors=errors, values=values, status=error.status_code
        )
    messages.success(request, _("“%(title)s” is ready.") % {"title": recording.title})
    return redirect("recording-settings", recording_id=recording.pk)


# --- A recording -----------------------------------------------------------------------------


@login_required
@require_GET
def recording_detail(request: HttpRequest, recording_id: int) -> HttpResponse:
    access = _page_access(access_recording, user=request.user, recording_id=recording_id)
    recording = access.recording
    classmates = (
        Enrollment.objects.filter(course=recording.course, is_active=True)
        .exclude(user=request.user)
        .select_related("user")
        .order_by("user__display_name", "user__username")
    )
    context = {
        "access": access,
        "recording": recording,
        "course": recording.course,
        "payload": selectors.recording_payload(recording),
        "chapters": selectors.chapters_get(recording=recording),
        "rooms": selectors.rooms_for_user_get(access=access),
        "classmates": classmates,
        "progress": selectors.progress_for_user(recording=recording, user=request.user),
        "is_ready": recording.status == RecordingStatus.READY,
        # Sections of the apps above (transcripts: captions), already rendered.
        "panels": [html for html in hooks.recording_panels(request=request, access=access) if html],
    }
    return render(request, "playback/recording.html", context)


@login_required
@require_POST
def recording_room_open(request: HttpRequest, recording_id: int) -> HttpResponse:
    access = _page_access(access_recording, user=request.user, recording_id=recording_id)
    if access.recording.status != RecordingStatus.READY:
        messages.error(request, _("This recording is not ready yet."))
        return redirect("recording-detail", recording_id=recording_id)
    invite = [uid for uid in map(_whole, request.POST.getlist("invite")) if uid is not None]
    try:
        room, _created = rooms.room_open(
            access=access,
            kind=request.POST.get("kind", ""),
            table_id=_whole(request.POST.get("table_id")),
            invite_user_ids=invite,
            control=request.POST.get("control") or None,
        )
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("recording-detail", recording_id=recording_id)
    url = reverse("playback-room", args=[room.pk])
    start = _whole(request.POST.get("t"))
    return redirect(f"{url}?t={start}" if start is not None else url)


# Strings the player builds at run time. Keys are the script's; text is plain.
PLAYER_STRINGS = {
    "connecting": gettext_lazy("Connecting…"),
    "connected": gettext_lazy("Connected"),
    "reconnecting": gettext_lazy("Reconnecting…"),
    "cannot_join": gettext_lazy("You cannot open this room."),
    "play": gettext_lazy("Play"),
    "pause": gettext_lazy("Pause"),
    "waiting_seek": gettext_lazy("Waiting for everyone to load… ({ready} of {total} ready)"),
    "waiting_poll": gettext_lazy("Paused for a poll: {answered} of {total} answered"),
    "resume_now": gettext_lazy("Resume for everyone"),
    "skip_poll": gettext_lazy("Skip this poll"),
    "review_countdown": gettext_lazy("Everyone has answered. Playing on in {seconds} s…"),
    "playing_by": gettext_lazy("{name} pressed play"),
    "paused_by": gettext_lazy("{name} paused"),
    "seeked_by": gettext_lazy("{name} jumped to {time}"),
    "rate_by": gettext_lazy("{name} set the speed to {rate}×"),
    "timeout": gettext_lazy("Playing on: not everyone was ready in time."),
    "host_only": gettext_lazy("Only the host controls playback in this room."),
    "skip_forbidden": gettext_lazy(
        "Skipping ahead opens once you have watched the whole recording."
    ),
    "online": gettext_lazy("watching"),
    "away": gettext_lazy("not here"),
    "host": gettext_lazy("host"),
    "you": gettext_lazy("you"),
    "poll": gettext_lazy("Poll from the live session"),
    "submit": gettext_lazy("Submit answer"),
    "answered_live": gettext_lazy("You answered this live:"),
    "your_answer": gettext_lazy("Your answer:"),
    "correct": gettext_lazy("Correct!"),
    "wrong": gettext_lazy("Not quite."),
    "recorded": gettext_lazy("Answer recorded."),
    "correct_answer": gettext_lazy("Correct answer: {answer}"),
    "rewatch": gettext_lazy("Rewatch from {time}"),
    "continue": gettext_lazy("Continue"),
    "close": gettext_lazy("Close"),
    "waiting_others": gettext_lazy("Waiting for the others to answer…"),
    "live_chat": gettext_lazy("Live chat"),
    "note_private": gettext_lazy("Only me"),
    "note_table": gettext_lazy("My table"),
    "note_course": gettext_lazy("Course"),
    "delete": gettext_lazy("Delete"),
    "no_notes": gettext_lazy("No notes yet. Notes are pinned to the current moment of the video."),
    "no_chat": gettext_lazy("Nothing said yet at this point of the recording."),
    "completed": gettext_lazy("Completed"),
    "watched": gettext_lazy("{percent}% watched"),
    "poll_marker": gettext_lazy("Poll"),
    "chapter": gettext_lazy("Chapter"),
    "anonymous": gettext_lazy("Anonymous"),
    "question": gettext_lazy("Question"),
    "announcement": gettext_lazy("Announcement"),
    "paused_recording": gettext_lazy("Recording paused for {seconds} s"),
    "reactions": gettext_lazy("Reactions"),
    "mode": gettext_lazy("Mode: {title}"),
    "podium_invited": gettext_lazy("{name} joined the podium"),
    "podium_removed": gettext_lazy("{name} left the podium"),
    "comment": gettext_lazy("Comment at {time}"),
    "error": gettext_lazy("Something went wrong: {message}"),
}


@login_required
@require_GET
def playback_room(request: HttpRequest, room_id: int) -> HttpResponse:
    access = _page_access(access_playback_room, user=request.user, room_id=room_id)
    recording = access.recording
    start = _whole(request.GET.get("t"))
    config = {
        "room_id": access.room.pk,
        "recording_id": recording.pk,
        "ws_path": f"/ws/playback/{access.room.pk}/",
        "media_url": reverse("recording-media", args=[recording.pk]),
        "notes_export_url": reverse("recording-notes-export", args=[recording.pk]),
        "start_at_ms": start * 1000 if start is not None else None,
    }
    panels, links = [], []
    for result in hooks.player_panels(access=access):
        if result and result.get("template"):
            panels.append(result)
        links.extend((result or {}).get("links", []))
    context = {
        "access": access,
        "room": access.room,
        "recording": recording,
        "course": recording.course,
        "has_video": bool(recording.video_codec),
        # <track> elements the apps above give (transcripts: captions).
        "caption_tracks": [
            track
            for tracks in hooks.player_captions(recording=recording, user=request.user)
            for track in tracks
        ],
        "config": config,
        "strings": PLAYER_STRINGS,
        "panels": panels,  # extra side-panel tabs (playback/hooks.py: player_panels)
        "links": links,
    }
    return render(request, "playback/player.html", context)


@require_http_methods(["GET", "HEAD"])
def recording_media(request: HttpRequest, recording_id: int) -> HttpResponse:
    try:
        access = access_recording(user=request.user, recording_id=recording_id)
    except NotAuthenticatedError:
        return HttpResponseForbidden()
    except NotFoundError as error:
        raise Http404(error.message) from error
    if not access.recording.file:
        raise Http404(_("This recording has no file."))
    return recording_file_response(request, access.recording)


@login_required
@require_GET
def recording_notes_export(request: HttpRequest, recording_id: int) -> HttpResponse:
    access = _page_access(access_recording, user=request.user, recording_id=recording_id)
    recording = access.recording
    base = request.build_absolute_uri(reverse("recording-detail", args=[recording.pk]))
    text = notes.notes_markdown(recording=recording, user=request.user, base_url=base)
    response = HttpResponse(text, content_type="text/markdown; charset=utf-8")
    filename = f"notes-{slugify(recording.title) or recording.pk}.md"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --- Staff: settings and analytics ------------------------------------------------------------


def _staff_access(request, recording_id):
    access = _page_access(access_recording, user=request.user, recording_id=recording_id)
    if not access.is_staff:
        return access, _forbidden(request, _("Only staff can change recordings."))
    return access, None


@login_required
@require_http_methods(["GET", "POST"])
def recording_settings(request: HttpRequest, recording_id: int) -> HttpResponse:
    access, denied = _staff_access(request, recording_id)
    if denied:
        return denied
    recording = access.recording
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        changes, errors = _settings_changes(request, recording)
        if not errors:
            try:
                recording_settings_update(
                    recording_id=recording.pk, actor=request.user, changes=changes
                )
            except ApplicationError as error:
                errors = {key: str(value) for key, value in error.details.items()} or {
                    "form": error.message
                }
            else:
                messages.success(request, _("Settings saved."))
                return redirect("recording-settings", recording_id=recording.pk)
        status = 400
    recording.refresh_from_db()
    settings = recording_settings_get(recording)
    polls = selectors.recording_polls_get(recording=recording)
    context = {
        "access": access,
        "recording": recording,
        "course": recording.course,
        "settings": settings,
        "chapters": selectors.chapters_get(recording=recording),
        "polls": polls,
        "trim_start": clock(recording.trim_start_ms) if recording.trim_start_ms else "",
        "trim_end": clock(recording.trim_end_ms) if recording.trim_end_ms is not None else "",
        "duration": clock(recording.duration_ms),
        "threshold_percent": round(settings["completion_threshold"] * 100),
        "errors": errors,
    }
    return render(request, "playback/settings.html", context, status=status)


def _settings_changes(request, recording) -> tuple[dict, dict]:
    post = request.POST
    changes: dict = {"title": post.get("title", "")}
    errors: dict[str, str] = {}
    for field in ("trim_start", "trim_end"):
        try:
            value = parse_clock(post.get(field, ""))
        except ValueError:
            errors[f"{field}_ms"] = _("Write a time as 1:23, 1:02:03 or a number of seconds.")
            continue
        changes[f"{field}_ms"] = value if value is not None or field == "trim_end" else 0
    changes["pause_at_polls"] = post.get("pause_at_polls") == "on"
    changes["forward_skip"] = post.get("forward_skip") == "on"
    polls = selectors.recording_polls_get(recording=recording)
    if polls:
        chosen = {n for n in map(_whole, post.getlist("replay_polls")) if n is not None}
        all_ids = {item.poll.pk for item in polls}
        changes["replay_polls"] = None if chosen == all_ids else sorted(chosen)
    chapters = {}
    for key, value in post.items():
        if key.startswith("chapter:"):
            chapters[key.removeprefix("chapter:")] = value
    if chapters:
        defaults = {c["key"]: c["default"] for c in selectors.chapters_get(recording=recording)}
        changes["chapters"] = {
            key: ("" if value.strip() == defaults.get(key, "") else value)
            for key, value in chapters.items()
        }
    try:
        changes["completion_threshold"] = int(post.get("threshold_percent", "90")) / 100
    except ValueError:
        errors["completion_threshold"] = _("Give a whole percentage.")
    try:
        changes["poll_timeout_seconds"] = int(post.get("poll_timeout_seconds", "90"))
    except ValueError:
        errors["poll_timeout_seconds"] = _("Give a number of seconds.")
    return changes, errors


@login_required
@require_POST
def recording_timeline_rebuild(request: HttpRequest, recording_id: int) -> HttpResponse:
    access, denied = _staff_access(request, recording_id)
    if denied:
        return denied
    recording_timeline_build_on_commit(access.recording.pk)
    messages.success(request, _("The timeline is being rebuilt from the session."))
    return redirect("recording-settings", recording_id=recording_id)


@login_required
@require_GET
def recording_analytics(request: HttpRequest, recording_id: int) -> HttpResponse:
    access, denied = _staff_access(request, recording_id)
    if denied:
        return denied
    recording = access.recording
    heatmap = selectors.heatmap_get(recording=recording)
    peak = max([b["learners"] for b in heatmap["buckets"]] + [1])
    for bucket in heatmap["buckets"]:
        bucket["share"] = round(100 * bucket["learners"] / max(1, heatmap["learners"]))
        bucket["height"] = (
            max(2, round(100 * bucket["learners"] / peak)) if bucket["learners"] else 0
        )
        bucket["label"] = f"{clock(bucket['from_ms'])}–{clock(bucket['to_ms'])}"
    rows = selectors.completion_list_get(recording=recording)
    for row in rows:
        row["position"] = clock(row["position_ms"])
    context = {
        "access": access,
        "recording": recording,
        "course": recording.course,
        "heatmap": heatmap,
        "peak": max([b["learners"] for b in heatmap["buckets"]] + [0]),
        "rows": rows,
        "completed": sum(1 for row in rows if row["completed"]),
        "started": sum(1 for row in rows if row["watched_ms"]),
        "chapters": [
            {**c, "left": _share(c["offset_ms"], heatmap)}
            for c in selectors.chapters_get(recording=recording)
        ],
        "start_label": clock(heatmap["start_ms"]),
        "end_label": clock(heatmap["end_ms"]),
    }
    return render(request, "playback/analytics.html", context)


def _share(offset: int, heatmap: dict) -> float:
    length = max(1, heatmap["end_ms"] - heatmap["start_ms"])
    return round(100 * (offset - heatmap["start_ms"]) / length, 2)
