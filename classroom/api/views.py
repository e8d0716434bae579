from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from classroom.selectors import live_session_list
from classroom.services.sessions import live_session_schedule
from core.api.serializers import InputSerializer
from courses.access import CourseAction, access_course


class LiveSessionOutput(serializers.Serializer):
    id = serializers.IntegerField()
    course_id = serializers.IntegerField()
    title = serializers.CharField()
    scheduled_start = serializers.DateTimeField()
    scheduled_end = serializers.DateTimeField()
    state = serializers.CharField()
    started_at = serializers.DateTimeField(allow_null=True)
    ended_at = serializers.DateTimeField(allow_null=True)


class LiveSessionScheduleInput(InputSerializer):
    title = serializers.CharField(max_length=200)
    scheduled_start = serializers.DateTimeField()
    scheduled_end = serializers.DateTimeField()


class LiveSessionListApi(APIView):
    @extend_schema(responses=LiveSessionOutput(many=True), summary="Sessions of a course")
    def get(self, request: Request, course_id: int) -> Response:
        access = access_course(user=request.user, course_id=course_id)
        sessions = live_session_list(course=access.course)
        return Response(LiveSessionOutput(sessions, many=True).data)


class LiveSessionScheduleApi(APIView):
    @extend_schema(
        request=LiveSessionScheduleInput,
        responses={201: LiveSessionOutput},
        summary="Schedule a session (staff)",
    )
    def post(self, request: Request, course_id: int) -> Response:
        access = access_course(user=request.user, course_id=course_id, action=CourseAction.TEACH)
        payload = LiveSessionScheduleInput(data=request.data)
        payload.is_valid(raise_exception=True)
        session = live_session_schedule(
            course=access.course, actor=request.user, **payload.validated_data
        )
        return Response(LiveSessionOutput(session).data, status=status.HTTP_201_CREATED)
