"""A session's recap over HTTP (docs/api.md): read, edit, publish."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.serializers import InputSerializer
from core.errors import NotFoundError
from recaps import services
from recaps.access import access_recap, access_recap_edit
from recaps.selectors import recap_payload


class RecapOutput(serializers.Serializer):
    session_id = serializers.IntegerField()
    course_id = serializers.IntegerField()
    status = serializers.CharField()
    published_at = serializers.DateTimeField(allow_null=True)
    built_at = serializers.DateTimeField(allow_null=True)
    version = serializers.IntegerField()
    recording_id = serializers.IntegerField(allow_null=True)
    transcript_status = serializers.CharField()
    note = serializers.CharField(allow_blank=True)
    points = serializers.ListField(child=serializers.DictField())
    chapters = serializers.ListField(child=serializers.DictField())
    polls = serializers.ListField(child=serializers.DictField())
    questions = serializers.ListField(child=serializers.DictField())
    announcements = serializers.ListField(child=serializers.DictField())
    chat_peaks = serializers.ListField(child=serializers.DictField())


class PointInput(InputSerializer):
    id = serializers.CharField(max_length=24, required=False)
    text = serializers.CharField(max_length=services.POINT_TEXT_MAX)
    start_ms = serializers.IntegerField(min_value=0, allow_null=True, required=False)
    origin = serializers.ChoiceField(choices=["summary", "staff"], required=False)


class RecapEditInput(InputSerializer):
    points = PointInput(many=True, required=False)
    note = serializers.CharField(max_length=services.NOTE_MAX, allow_blank=True, required=False)
    version = serializers.IntegerField(min_value=0, required=False)


class RecapPublishInput(InputSerializer):
    published = serializers.BooleanField()


class RecapApi(APIView):
    @extend_schema(
        responses=RecapOutput,
        summary="A session's recap (learners: once published; staff: the draft too)",
    )
    def get(self, request: Request, session_id: int) -> Response:
        access = access_recap(user=request.user, session_id=session_id)
        if access.recap is None:
            raise NotFoundError("This session has no recap yet.", code="recap_not_found")
        return Response(recap_payload(access.recap, is_staff=access.is_staff))


class RecapEditApi(APIView):
    @extend_schema(
        request=RecapEditInput,
        responses=RecapOutput,
        summary="Staff: replace the key points and/or the note",
    )
    def post(self, request: Request, session_id: int) -> Response:
        access = access_recap_edit(user=request.user, session_id=session_id)
        payload = RecapEditInput(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        recap = services.recap_edit(
            recap_id=access.recap.pk,
            actor=request.user,
            points=data.get("points"),
            note=data.get("note"),
            version=data.get("version"),
        )
        return Response(recap_payload(recap, is_staff=True))


class RecapPublishApi(APIView):
    @extend_schema(
        request=RecapPublishInput,
        responses=RecapOutput,
        summary="Staff: publish the recap to learners (or take it back to draft)",
    )
    def post(self, request: Request, session_id: int) -> Response:
        access = access_recap_edit(user=request.user, session_id=session_id)
        payload = RecapPublishInput(data=request.data)
        payload.is_valid(raise_exception=True)
        recap = services.recap_publish(
            recap_id=access.recap.pk,
            actor=request.user,
            publish=payload.validated_data["published"],
        )
        return Response(recap_payload(recap, is_staff=True))
