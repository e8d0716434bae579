"""Transcripts over HTTP: the state of a recording's transcript (polled by
the staff progress bar), its cues, caption file upload, cue edits with their
history, transcribe again, and the captions preference. One view per
operation; errors in the API's JSON shape (core/api)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.serializers import InputSerializer
from core.errors import PermissionDeniedError
from playback.access import access_recording
from transcripts import selectors
from transcripts.services import captions, jobs


def _staff(request: Request, recording_id: int):
    access = access_recording(user=request.user, recording_id=recording_id)
    if not access.is_staff:
        raise PermissionDeniedError("Only staff can change transcripts.", code="staff_only")
    return access


def cue_payload(cue) -> dict:
    return {
        "id": cue.pk,
        "index": cue.index,
        "start_ms": cue.start_ms,
        "end_ms": cue.end_ms,
        "text": cue.text,
        "speaker": cue.speaker,
        "edited_at": cue.edited_at,
    }


class TranscriptOutput(serializers.Serializer):
    status = serializers.CharField()
    source = serializers.CharField()
    language = serializers.CharField()
    cues = serializers.IntegerField()
    asr_enabled = serializers.BooleanField()
    asr_off_reason = serializers.CharField()
    progress = serializers.FloatField(required=False)
    error = serializers.CharField(required=False)
    error_code = serializers.CharField(required=False)


class CueOutput(serializers.Serializer):
    id = serializers.IntegerField()
    index = serializers.IntegerField()
    start_ms = serializers.IntegerField()
    end_ms = serializers.IntegerField()
    text = serializers.CharField()
    speaker = serializers.CharField()
    edited_at = serializers.DateTimeField(allow_null=True)


class TranscriptApi(APIView):
    @extend_schema(responses={200: TranscriptOutput}, summary="A recording's transcript state")
    def get(self, request: Request, recording_id: int) -> Response:
        access = access_recording(user=request.user, recording_id=recording_id)
        transcript = selectors.transcript_for(recording_id)
        return Response(selectors.transcript_payload(transcript, is_staff=access.is_staff))


class CueListApi(APIView):
    @extend_schema(responses={200: CueOutput(many=True)}, summary="The captions of a recording")
    def get(self, request: Request, recording_id: int) -> Response:
        access_recording(user=request.user, recording_id=recording_id)
        return Response([cue_payload(cue) for cue in selectors.transcript_cues(recording_id)])


class CaptionsUploadInput(InputSerializer):
    file = serializers.FileField(help_text="A WebVTT (.vtt) or SubRip (.srt) file, UTF-8.")


class CaptionsUploadApi(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        request={"multipart/form-data": CaptionsUploadInput},
        responses={201: TranscriptOutput},
        summary="Upload captions (staff): replaces the transcript",
    )
    def post(self, request: Request, recording_id: int) -> Response:
        access = _staff(request, recording_id)
        payload = CaptionsUploadInput(data=request.data)
        payload.is_valid(raise_exception=True)
        transcript = captions.captions_upload(
            recording=access.recording, actor=request.user, uploaded=payload.validated_data["file"]
        )
        return Response(
            selectors.transcript_payload(transcript, is_staff=True), status=status.HTTP_201_CREATED
        )


class CueUpdateInput(InputSerializer):
    text = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    start_ms = serializers.IntegerField(required=False, min_value=-(2**53), max_value=2**53)
    end_ms = serializers.IntegerField(required=False, min_value=-(2**53), max_value=2**53)


class CueUpdateApi(APIView):
    @extend_schema(
        request=CueUpdateInput,
        responses={200: CueOutput},
        summary="Edit a caption's text or timing (staff); kept in its history",
    )
    def patch(self, request: Request, recording_id: int, cue_id: int) -> Response:
        access = _staff(request, recording_id)
        payload = CueUpdateInput(data=request.data)
        payload.is_valid(raise_exception=True)
        cue = captions.cue_update(
            recording=access.recording,
            cue_id=cue_id,
            actor=request.user,
            changes=dict(payload.validated_data),
        )
        return Response(cue_payload(cue))


class RevisionOutput(serializers.Serializer):
    cue_id = serializers.IntegerField()
    editor = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    previous = serializers.DictField()
    new = serializers.DictField()


class RevisionListApi(APIView):
    @extend_schema(
        responses={200: RevisionOutput(many=True)}, summary="Edit history of the captions (staff)"
    )
    def get(self, request: Request, recording_id: int) -> Response:
        _staff(request, recording_id)
        return Response(
            [
                {
                    "cue_id": rev.cue_id,
                    "editor": rev.editor.name if rev.editor else None,
                    "created_at": rev.created_at,
                    "previous": {
                        "text": rev.previous_text,
                        "start_ms": rev.previous_start_ms,
                        "end_ms": rev.previous_end_ms,
                    },
                    "new": {
                        "text": rev.new_text,
                        "start_ms": rev.new_start_ms,
                        "end_ms": rev.new_end_ms,
                    },
                }
                for rev in selectors.cue_revisions(recording_id)
            ]
        )


class TranscribeApi(APIView):
    @extend_schema(
        request=None, responses={202: TranscriptOutput}, summary="Transcribe again (staff)"
    )
    def post(self, request: Request, recording_id: int) -> Response:
        _staff(request, recording_id)
        from core.errors import ConflictError

        state = selectors.transcript_payload(None, is_staff=False)
        if not state["asr_enabled"]:
            raise ConflictError(state["asr_off_reason"], code="asr_off")
        transcript = jobs.transcript_queue(recording_id=recording_id, force=True)
        return Response(
            selectors.transcript_payload(transcript, is_staff=True),
            status=status.HTTP_202_ACCEPTED,
        )


class CaptionsPreferenceInput(InputSerializer):
    captions_on = serializers.BooleanField()


class CaptionsPreferenceApi(APIView):
    @extend_schema(
        request=CaptionsPreferenceInput,
        responses={200: CaptionsPreferenceInput},
        summary="Show captions by default (my preference)",
    )
    def put(self, request: Request) -> Response:
        payload = CaptionsPreferenceInput(data=request.data)
        payload.is_valid(raise_exception=True)
        captions.captions_preference_set(
            user=request.user, captions_on=payload.validated_data["captions_on"]
        )
        return Response({"captions_on": request.user.captions_on})
