from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from courses.access import access_course
from courses.selectors import course_list_for_user, course_roster_list


class UserOutput(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.CharField()
    email = serializers.EmailField()
    time_zone = serializers.CharField()


class CourseOutput(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    code = serializers.CharField()
    term = serializers.CharField()
    time_zone = serializers.CharField()
    role = serializers.CharField(allow_null=True)


class MemberOutput(serializers.Serializer):
    user = UserOutput()
    role = serializers.CharField()


class CourseDetailOutput(CourseOutput):
    members = MemberOutput(many=True, allow_null=True, help_text="Staff only; null for others.")


class MeApi(APIView):
    @extend_schema(responses=UserOutput, summary="The authenticated user")
    def get(self, request: Request) -> Response:
        return Response(UserOutput(request.user).data)


class CourseListApi(APIView):
    @extend_schema(responses=CourseOutput(many=True), summary="Courses I am enrolled in")
    def get(self, request: Request) -> Response:
        courses = course_list_for_user(user=request.user)
        data = [{**CourseOutput(course).data, "role": course.viewer_role} for course in courses]
        return Response(data)


class CourseDetailApi(APIView):
    @extend_schema(responses=CourseDetailOutput, summary="One course; the roster for staff")
    def get(self, request: Request, course_id: int) -> Response:
        access = access_course(user=request.user, course_id=course_id)
        members = None
        if access.is_staff:
            members = [
                {"user": UserOutput(enrollment.user).data, "role": enrollment.role}
                for enrollment in course_roster_list(course=access.course)
            ]
        data = {
            **CourseOutput(access.course).data,
            "role": access.role,
            "members": members,
        }
        return Response(data)
