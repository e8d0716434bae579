"""Pages and files of transcripts: captions as WebVTT for the player, the
downloads (VTT, SRT, plain text), the staff transcript editor (fix a word,
re-time a cue, history), caption file upload, "transcribe again", and the
captions preference. Parse → access → service or selector → template."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import ApplicationError, NotAuthenticatedError, NotFoundError
from playback.access import access_recording
from transcripts import formats, selectors
from transcripts.services import captions, jobs


def _access(request: HttpRequest, recording_id: int):
    try:
        return access_recording(user=request.user, recording_id=recording_id)
    except NotFoundError as error:
        raise Http404(error.message) from error


def _forbidden(request: HttpRequest, message: str) -> HttpResponse:
    return render(request, "403.html", {"message": message}, status=403)


def _cues_or_404(recording_id: int):
    cues = selectors.transcript_cues(recording_id)
    if not cues:
        raise Http404(_("This recording has no captions yet."))
    return cues


@require_http_methods(["GET", "HEAD"])
def captions_vtt(request: HttpRequest, recording_id: int) -> HttpResponse:
    """The captions as WebVTT (the player's <track>; `?download=1` saves it)."""
    try:
        access = access_recording(user=request.user, recording_id=recording_id)
    except NotAuthenticatedError:
        return HttpResponseForbidden()
    except NotFoundError as error:
        raise Http404(error.message) from error
    cues = _cues_or_404(recording_id)
    response = HttpResponse(formats.write_vtt(cues), content_type="text/vtt; charset=utf-8")
    response["Cache-Control"] = "private, no-cache"
    if request.GET.get("download"):
        _attach(response, access.recording, "vtt")
    return response


def _attach(response: HttpResponse, recording, extension: str) -> None:
    name = slugify(recording.title) or f"recording-{recording.pk}"
    response["Content-Disposition"] = f'attachment; filename="{name}.{extension}"'


@login_required
@require_GET
def transcript_download(request: HttpRequest, recording_id: int, extension: str) -> HttpResponse:
    access = _access(request, recording_id)
    cues = _cues_or_404(recording_id)
    if extension == "srt":
        response = HttpResponse(
            formats.write_srt(cues), content_type="application/x-subrip; charset=utf-8"
        )
    elif extension == "txt":
        response = HttpResponse(formats.write_text(cues), content_type="text/plain; charset=utf-8")
    else:
        response = HttpResponse(formats.write_vtt(cues), content_type="text/vtt; charset=utf-8")
    _attach(response, access.recording, extension)
    return response


@login_required
@require_GET
def transcript_editor(request: HttpRequest, recording_id: int) -> HttpResponse:
    access = _access(request, recording_id)
    if not access.is_staff:
        return _forbidden(request, _("Only staff can edit transcripts."))
    return _editor_page(request, access)


def _editor_page(request, access, *, errors=None, status=200) -> HttpResponse:
    recording = access.recording
    transcript = selectors.transcript_for(recording.pk)
    cues = list(transcript.cues.order_by("start_ms", "index")) if transcript else []
    context = {
        "access": access,
        "recording": recording,
        "course": recording.course,
        "transcript": transcript,
        "state": selectors.transcript_payload(transcript, is_staff=True),
        "cues": cues,
        "revisions": selectors.cue_revisions(recording.pk),
        "errors": errors or {},
        "upload_max_kb": captions.upload_max_bytes() // 1024,
    }
    return render(request, "transcripts/editor.html", context, status=status)


@login_required
@require_POST
def cue_edit(request: HttpRequest, recording_id: int, cue_id: int) -> HttpResponse:
    access = _access(request, recording_id)
    if not access.is_staff:
        return _forbidden(request, _("Only staff can edit transcripts."))
    changes: dict = {"text": request.POST.get("text", "")}
    typed = {key: request.POST.get(key, "") for key in ("start", "end", "text")}
    for field in ("start", "end"):
        raw = request.POST.get(field, "").strip()
        value = _seconds_to_ms(raw)
        if value is None:
            return _editor_page(
                request,
                access,
                errors={
                    "cue": cue_id,
                    "message": _("Times are seconds, like 12.5."),
                    "values": typed,
                },
                status=400,
            )
        changes[f"{field}_ms"] = value
    try:
        captions.cue_update(
            recording=access.recording, cue_id=cue_id, actor=request.user, changes=changes
        )
    except ApplicationError as error:
        return _editor_page(
            request,
            access,
            errors={"cue": cue_id, "message": error.message, "values": typed},
            status=error.status_code,
        )
    messages.success(request, _("Caption saved."))
    return redirect(f"{request.path.rsplit('/cues/', 1)[0]}/#cue-{cue_id}")


def _seconds_to_ms(raw: str) -> int | None:
    """Seconds ("12.5") or a clock ("1:02.5", "1:02:03.250") to milliseconds."""
    if not raw:
        return None
    parts = raw.split(":")
    if len(parts) > 3:
        return None
    try:
        seconds = float(parts[-1])
        minutes = int(parts[-2]) if len(parts) >= 2 else 0
        hours = int(parts[-3]) if len(parts) == 3 else 0
    except ValueError:
        return None
    if seconds != seconds or abs(seconds) > 10**9 or abs(minutes) > 10**7 or abs(hours) > 10**5:
        return None
    return int(round(((hours * 60 + minutes) * 60 + seconds) * 1000))


@login_required
@require_POST
def captions_upload_view(request: HttpRequest, recording_id: int) -> HttpResponse:
    access = _access(request, recording_id)
    if not access.is_staff:
        return _forbidden(request, _("Only staff can upload captions."))
    try:
        transcript = captions.captions_upload(
            recording=access.recording, actor=request.user, uploaded=request.FILES.get("file")
        )
    except ApplicationError as error:
        return _editor_page(
            request, access, errors={"upload": error.message}, status=error.status_code
        )
    messages.success(
        request,
        _("Captions uploaded: %(count)d cues.") % {"count": transcript.cues.count()},
    )
    return redirect("transcripts:editor", recording_id=recording_id)


@login_required
@require_POST
def transcribe_again(request: HttpRequest, recording_id: int) -> HttpResponse:
    access = _access(request, recording_id)
    if not access.is_staff:
        return _forbidden(request, _("Only staff can start a transcription."))
    state = selectors.transcript_payload(None, is_staff=False)
    if not state["asr_enabled"]:
        messages.error(request, state["asr_off_reason"])
    elif jobs.transcript_queue(recording_id=recording_id, force=True) is None:
        messages.error(request, _("This recording is not ready yet."))
    else:
        messages.success(request, _("Transcription queued."))
    return redirect("transcripts:editor", recording_id=recording_id)


@login_required
@require_POST
def captions_preference(request: HttpRequest) -> HttpResponse:
    on = request.POST.get("captions_on") == "on"
    captions.captions_preference_set(user=request.user, captions_on=on)
    messages.success(
        request,
        _("Captions will be shown by default.") if on else _("Captions are off by default."),
    )
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "/"
    return redirect(target)
