"""Recordings, rooms, notes, progress and staff analytics over HTTP. Watching
together (play, pause, seek, polls, notes in a room) happens on the room's
WebSocket (docs/realtime.md, "Playback rooms"); these endpoints prepare and
report. One view per operation."""

from __future__ import annotations

from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.utils import OpenApiTypes, extend_schema
from rest_framework import serializers, status
from rest_framework.authentication import TokenAuthentication
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.authentication import SessionAuthenticationCsrfLater, csrf_check
from core.api.serializers import InputSerializer
from courses.access import CourseAction, access_course
from playback import selectors
from playback.access import access_playback_room, access_recording
from playback.events import note_payload
from playback.models import NoteVisibility, RoomControl, RoomKind
from playback.services import notes, rooms
from playback.services.recordings import (
    recording_delete,
    recording_settings_update,
    recording_upload,
)
from playback.services.rooms import ADHOC_MEMBERS_MAX
from playback.services.timeline import recording_timeline_build_on_commit
from playback.uploads import upload_body_check, upload_check


class RecordingOutput(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    course_id = serializers.IntegerField()
    live_session_id = serializers.IntegerField(allow_null=True)
    status = serializers.CharField()
    source = serializers.CharField()
    duration_ms = serializers.IntegerField(allow_null=True)
    start_ms = serializers.IntegerField()
    end_ms = serializers.IntegerField()
    mime_type = serializers.CharField()
    has_video = serializers.BooleanField()
    media_url = serializers.CharField()
    pause_at_polls = serializers.BooleanField()
    forward_skip = serializers.BooleanField()
    completion_threshold = serializers.FloatField()
    poll_timeout_seconds = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class ProgressOutput(serializers.Serializer):
    segments = serializers.ListField(child=serializers.ListField(child=serializers.IntegerField()))
    watched_ms = serializers.IntegerField()
    percent = serializers.FloatField()
    position_ms = serializers.IntegerField()
    completed = serializers.BooleanField()
    completed_at = serializers.DateTimeField(allow_null=True)
    frontier_ms = serializers.IntegerField()
    threshold = serializers.FloatField()


class RecordingListItemOutput(RecordingOutput):
    progress = ProgressOutput()


class RecordingDetailOutput(serializers.Serializer):
    recording = RecordingOutput()
    chapters = serializers.ListField(child=serializers.DictField())
    timeline = serializers.ListField(child=serializers.DictField())
    polls = serializers.ListField(child=serializers.DictField())
    progress = ProgressOutput()


class RecordingUploadInput(InputSerializer):
    file = serializers.FileField(
        help_text="MP4, WebM, MP3 or M4A; checked by reading it",
        error_messages={
            "required": "A file is required: choose a recording to upload.",
            "invalid": "A file is required: choose a recording to upload.",
        },
    )
    title = serializers.CharField(max_length=200, required=False, allow_blank=True)
    live_session_id = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=2**63 - 1
    )


class RecordingSettingsInput(InputSerializer):
    title = serializers.CharField(max_length=200, required=False)
    trim_start_ms = serializers.IntegerField(min_value=0, required=False)
    trim_end_ms = serializers.IntegerField(min_value=0, required=False, allow_null=True)
    pause_at_polls = serializers.BooleanField(required=False)
    forward_skip = serializers.BooleanField(
        required=False, help_text="May learners skip ahead before completing?"
    )
    replay_polls = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        required=False,
        allow_null=True,
        help_text="Poll ids that replay; null = all",
    )
    chapters = serializers.DictField(
        child=serializers.CharField(allow_blank=True, max_length=120),
        required=False,
        help_text="{chapter key: title}; an empty title restores the default",
    )
    completion_threshold = serializers.FloatField(required=False, min_value=0.5, max_value=1.0)
    poll_timeout_seconds = serializers.IntegerField(required=False, min_value=10, max_value=600)

    def validate(self, attrs):
        # DRF's number fields take true as 1: a boolean is not a threshold.
        for name in ("completion_threshold", "poll_timeout_seconds"):
            if isinstance(self.initial_data.get(name), bool):
                raise serializers.ValidationError({name: "A number, not true or false."})
        return attrs


class QueuedOutput(serializers.Serializer):
    queued = serializers.BooleanField()


class RoomOpenInput(InputSerializer):
    kind = serializers.ChoiceField(choices=RoomKind.choices)
    table_id = serializers.IntegerField(
        required=False, min_value=1, max_value=2**63 - 1, help_text="staff only: which table"
    )
    invite = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        required=False,
        max_length=ADHOC_MEMBERS_MAX,
        help_text="ad-hoc: user ids of people in the course",
    )
    control = serializers.ChoiceField(choices=RoomControl.choices, required=False)


class RoomOutput(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    control = serializers.CharField()
    url = serializers.CharField()
    ws_path = serializers.CharField()
    created = serializers.BooleanField()


class RoomInviteInput(InputSerializer):
    user_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        min_length=1,
        max_length=ADHOC_MEMBERS_MAX,
        help_text="user ids of people in the course",
    )


class InvitedOutput(serializers.Serializer):
    invited = serializers.ListField(child=serializers.IntegerField())


class NoteOutput(serializers.Serializer):
    id = serializers.IntegerField()
    author = serializers.DictField()
    visibility = serializers.ChoiceField(choices=NoteVisibility.choices)
    table_id = serializers.IntegerField(allow_null=True)
    media_ms = serializers.IntegerField()
    body = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class NoteCreateInput(InputSerializer):
    body = serializers.CharField(max_length=4000)
    media_ms = serializers.IntegerField(min_value=0)
    visibility = serializers.ChoiceField(choices=NoteVisibility.choices, default="private")


class AnalyticsOutput(serializers.Serializer):
    heatmap = serializers.DictField()
    learners = serializers.ListField(child=serializers.DictField())


class RecordingListApi(APIView):
    @extend_schema(
        responses=RecordingListItemOutput(many=True),
        summary="Recordings of a course (learners: ready ones) with my progress",
    )
    def get(self, request: Request, course_id: int) -> Response:
        access = access_course(user=request.user, course_id=course_id)
        items = selectors.recording_list_get(
            course=access.course, user=request.user, is_staff=access.is_staff
        )
        return Response([{**item["payload"], "progress": item["progress"]} for item in items])


class RecordingUploadApi(APIView):
    """Refuses before reading the body: who may upload (403), then the body's
    type (400) and declared size (413); the CSRF check (which reads the form)
    and the size-limited parse come after (playback/uploads.py)."""

    reads_own_body = True  # core.middleware.FormTextMiddleware leaves the body alone
    parser_classes = [MultiPartParser]
    authentication_classes = [SessionAuthenticationCsrfLater, TokenAuthentication]

    @extend_schema(
        request={"multipart/form-data": RecordingUploadInput},
        responses={201: RecordingOutput},
        summary="Upload a recording (staff)",
    )
    def post(self, request: Request, course_id: int) -> Response:
        access = access_course(user=request.user, course_id=course_id, action=CourseAction.TEACH)
        upload_body_check(request._request)
        csrf_check(request)
        upload_check(request._request)
        payload = RecordingUploadInput(data=request.data)
        upload_check(request._request)
        payload.is_valid(raise_exception=True)
        recording = recording_upload(
            course=access.course,
            actor=request.user,
            uploaded=payload.validated_data["file"],
            title=payload.validated_data.get("title", ""),
            live_session_id=payload.validated_data.get("live_session_id"),
        )
        return Response(selectors.recording_payload(recording), status=status.HTTP_201_CREATED)


class RecordingDetailApi(APIView):
    @extend_schema(
        responses=RecordingDetailOutput,
        summary="A recording with its chapters, the timeline I may see, its polls (with my answers) and my progress",
    )
    def get(self, request: Request, recording_id: int) -> Response:
        access = access_recording(user=request.user, recording_id=recording_id)
        recording = access.recording
        return Response(
            {
                "recording": selectors.recording_payload(recording),
                "chapters": selectors.chapters_get(recording=recording),
                "timeline": selectors.timeline_visible(
                    recording=recording, is_staff=access.is_staff, table_id=access.table_id
                ),
                "polls": selectors.recording_polls_for_user(
                    recording=recording, user=request.user, table_id=access.table_id
                ),
                "progress": selectors.progress_for_user(recording=recording, user=request.user),
            }
        )


class RecordingDeleteApi(APIView):
    @extend_schema(responses={204: None}, summary="Delete a recording and its file (instructor)")
    def delete(self, request: Request, recording_id: int) -> Response:
        access = access_recording(
            user=request.user, recording_id=recording_id, action=CourseAction.MANAGE
        )
        recording_delete(recording_id=access.recording.pk, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RecordingSettingsUpdateApi(APIView):
    @extend_schema(
        request=RecordingSettingsInput,
        responses=RecordingOutput,
        summary="Trim, chapter names, polls that replay, pause at polls, forward skipping (staff)",
    )
    def patch(self, request: Request, recording_id: int) -> Response:
        access = access_recording(
            user=request.user, recording_id=recording_id, action=CourseAction.TEACH
        )
        payload = RecordingSettingsInput(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        recording = recording_settings_update(
            recording_id=access.recording.pk,
            actor=request.user,
            changes=dict(payload.validated_data),
        )
        return Response(selectors.recording_payload(recording))


class RecordingTimelineRebuildApi(APIView):
    @extend_schema(
        request=None, responses={202: QueuedOutput}, summary="Rebuild the timeline (staff)"
    )
    def post(self, request: Request, recording_id: int) -> Response:
        access = access_recording(
            user=request.user, recording_id=recording_id, action=CourseAction.TEACH
        )
        recording_timeline_build_on_commit(access.recording.pk)
        return Response({"queued": True}, status=status.HTTP_202_ACCEPTED)


class PlaybackRoomOpenApi(APIView):
    @extend_schema(
        request=RoomOpenInput,
        responses={200: RoomOutput, 201: RoomOutput},
        summary="Open a room: alone, with my table (one per table, created on demand) or a new invited group",
    )
    def post(self, request: Request, recording_id: int) -> Response:
        access = access_recording(user=request.user, recording_id=recording_id)
        payload = RoomOpenInput(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        room, created = rooms.room_open(
            access=access,
            kind=data["kind"],
            table_id=data.get("table_id"),
            invite_user_ids=data.get("invite", []),
            control=data.get("control"),
        )
        body = {
            "id": room.pk,
            "kind": room.kind,
            "control": room.control,
            "url": reverse("playback-room", args=[room.pk]),
            "ws_path": f"/ws/playback/{room.pk}/",
            "created": created,
        }
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class PlaybackRoomInviteApi(APIView):
    @extend_schema(
        request=RoomInviteInput,
        responses=InvitedOutput,
        summary="Invite people of the course into an ad-hoc room",
    )
    def post(self, request: Request, room_id: int) -> Response:
        access = access_playback_room(user=request.user, room_id=room_id)
        payload = RoomInviteInput(data=request.data)
        payload.is_valid(raise_exception=True)
        invited = rooms.room_invite(
            room_id=access.room.pk, actor=request.user, user_ids=payload.validated_data["user_ids"]
        )
        return Response({"invited": invited})


class NoteListApi(APIView):
    @extend_schema(responses=NoteOutput(many=True), summary="Notes I may read on a recording")
    def get(self, request: Request, recording_id: int) -> Response:
        access = access_recording(user=request.user, recording_id=recording_id)
        return Response(
            selectors.notes_visible(
                recording=access.recording, user=request.user, table_id=access.table_id
            )
        )


class NoteCreateApi(APIView):
    @extend_schema(
        request=NoteCreateInput,
        responses={201: NoteOutput},
        summary="Add a note at a media time (outside a room)",
    )
    def post(self, request: Request, recording_id: int) -> Response:
        access = access_recording(user=request.user, recording_id=recording_id)
        payload = NoteCreateInput(data=request.data)
        payload.is_valid(raise_exception=True)
        note = notes.note_add(
            recording=access.recording,
            user=request.user,
            table_id=access.table_id,
            may_participate=access.may_participate,
            **payload.validated_data,
        )
        return Response(note_payload(note), status=status.HTTP_201_CREATED)


class NoteExportApi(APIView):
    @extend_schema(
        responses={(200, "text/markdown"): OpenApiTypes.STR},
        summary="My notes on a recording as Markdown with timestamps",
    )
    def get(self, request: Request, recording_id: int) -> HttpResponse:
        access = access_recording(user=request.user, recording_id=recording_id)
        base = request.build_absolute_uri(reverse("recording-detail", args=[recording_id]))
        text = notes.notes_markdown(recording=access.recording, user=request.user, base_url=base)
        return HttpResponse(text, content_type="text/markdown; charset=utf-8")


class ProgressApi(APIView):
    @extend_schema(responses=ProgressOutput, summary="My progress on a recording")
    def get(self, request: Request, recording_id: int) -> Response:
        access = access_recording(user=request.user, recording_id=recording_id)
        return Response(selectors.progress_for_user(recording=access.recording, user=request.user))


class RecordingAnalyticsApi(APIView):
    @extend_schema(
        responses=AnalyticsOutput,
        summary="What the class watched (heatmap) and each learner's completion (staff)",
    )
    def get(self, request: Request, recording_id: int) -> Response:
        access = access_recording(
            user=request.user, recording_id=recording_id, action=CourseAction.TEACH
        )
        recording = access.recording
        return Response(
            {
                "heatmap": selectors.heatmap_get(recording=recording),
                "learners": selectors.completion_list_get(recording=recording),
            }
        )
