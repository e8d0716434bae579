"""The read-only analytics API (docs/api.md, "Insights"): the pages' data
as JSON, the rollups for warehouses, the exports. One view per operation;
every view obtains its object through insights/access.py."""

from __future__ import annotations

from django.core.handlers.asgi import ASGIRequest
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.selectors import event_list
from core.api.serializers import InputSerializer
from insights import exports, selectors
from insights.access import (
    access_insights_all,
    access_insights_course,
    access_insights_learner,
    access_insights_program,
    access_insights_self,
    access_insights_session,
)
from insights.lrs import lrs_status_get
from insights.models import CourseRollup, RecordingRollup, SessionRollup, SessionStatus
from insights.xapi import statements_jsonl

PAGE_MAX = 1000


class MatrixFilterInput(InputSerializer):
    table = serializers.IntegerField(required=False, min_value=1)
    status = serializers.ChoiceField(choices=SessionStatus.values, required=False)
    q = serializers.CharField(required=False, max_length=100)
    since = serializers.DateField(required=False)
    until = serializers.DateField(required=False)
    page = serializers.IntegerField(required=False, min_value=1, max_value=100_000)
    per_page = serializers.IntegerField(required=False, min_value=1, max_value=500)


class PageInput(InputSerializer):
    after = serializers.IntegerField(required=False, min_value=0, max_value=2**63 - 1, default=0)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=PAGE_MAX, default=500)


class CourseCsvInput(InputSerializer):
    detail = serializers.ChoiceField(choices=["learners", "sessions"], required=False)


def _query(serializer_class, request: Request) -> dict:
    data = serializer_class(data=request.query_params.dict())
    data.is_valid(raise_exception=True)
    return data.validated_data


def _stream(request: Request, lines, *, filename: str, content_type: str) -> StreamingHttpResponse:
    """Rows leave as they are read. Under ASGI (Daphne, production) the
    response must iterate asynchronously, or Django reads it whole first."""
    if isinstance(request._request, ASGIRequest):
        lines = exports.lines_async(iter(lines))
    response = StreamingHttpResponse(lines, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


JSON = {200: OpenApiTypes.OBJECT}


class TrendWeekOutput(serializers.Serializer):
    week = serializers.CharField(help_text="ISO week, e.g. 2026-W10")
    sessions = serializers.IntegerField()
    attendance_percent = serializers.FloatField()
    present_percent = serializers.FloatField(allow_null=True)
    watched_later_percent = serializers.FloatField(allow_null=True)
    active_percent = serializers.FloatField(allow_null=True)
    poll_answer_percent = serializers.FloatField(allow_null=True)
    engagement_score = serializers.FloatField()


class RiskReasonOutput(serializers.Serializer):
    code = serializers.CharField()
    label = serializers.CharField()


class AtRiskOutput(serializers.Serializer):
    user_id = serializers.IntegerField()
    name = serializers.CharField()
    reasons = RiskReasonOutput(many=True)
    engagement_score = serializers.FloatField()
    sessions_absent = serializers.IntegerField()
    sessions_held = serializers.IntegerField()
    cards_overdue = serializers.IntegerField(allow_null=True)
    last_activity_at = serializers.DateTimeField(allow_null=True)


class TableMemberOutput(serializers.Serializer):
    user_id = serializers.IntegerField()
    name = serializers.CharField()
    talk_ms = serializers.IntegerField()
    talk_share = serializers.FloatField(allow_null=True)
    engagement_score = serializers.FloatField()


class TableOutput(serializers.Serializer):
    table_id = serializers.IntegerField()
    name = serializers.CharField()
    talk_ms = serializers.IntegerField()
    equity = serializers.FloatField(allow_null=True, help_text="1 − Gini of the members' talk")
    engagement_score = serializers.FloatField()
    members = TableMemberOutput(many=True)


class SessionReportApi(APIView):
    @extend_schema(responses=JSON, summary="A session's report (staff)")
    def get(self, request: Request, session_id: int) -> Response:
        access_insights_session(user=request.user, session_id=session_id)
        return Response(selectors.session_report_get(session_id))


class LiveEngagementApi(APIView):
    @extend_schema(responses=JSON, summary="The live engagement panel of a session (staff)")
    def get(self, request: Request, session_id: int) -> Response:
        access_insights_session(user=request.user, session_id=session_id)
        return Response(selectors.live_engagement_get(session_id))


class SessionCsvApi(APIView):
    @extend_schema(
        responses={(200, "text/csv"): OpenApiTypes.STR},
        summary="A session's CSV, one row per learner (staff)",
    )
    def get(self, request: Request, session_id: int) -> StreamingHttpResponse:
        _access, session = access_insights_session(user=request.user, session_id=session_id)
        return _stream(
            request,
            exports.session_csv(session_id, session.course_id),
            filename=f"session-{session_id}.csv",
            content_type="text/csv; charset=utf-8",
        )


class CourseDashboardApi(APIView):
    @extend_schema(
        parameters=[MatrixFilterInput],
        responses=JSON,
        summary="A course dashboard: matrix, weekly trends, at-risk list, tables (staff)",
    )
    def get(self, request: Request, course_id: int) -> Response:
        access_insights_course(user=request.user, course_id=course_id)
        filters = _query(MatrixFilterInput, request)
        return Response(
            {
                "matrix": selectors.course_matrix_get(course_id, filters),
                "trends": selectors.course_trends_get(course_id),
                "at_risk": selectors.at_risk_list(course_id),
                "tables": selectors.table_view_get(course_id),
            }
        )


class CourseMatrixApi(APIView):
    @extend_schema(parameters=[MatrixFilterInput], responses=JSON, summary="Learners × sessions")
    def get(self, request: Request, course_id: int) -> Response:
        access_insights_course(user=request.user, course_id=course_id)
        return Response(selectors.course_matrix_get(course_id, _query(MatrixFilterInput, request)))


class CourseTrendsApi(APIView):
    @extend_schema(responses=TrendWeekOutput(many=True), summary="A course's measures per week")
    def get(self, request: Request, course_id: int) -> Response:
        access_insights_course(user=request.user, course_id=course_id)
        return Response(selectors.course_trends_get(course_id))


class AtRiskListApi(APIView):
    @extend_schema(responses=AtRiskOutput(many=True), summary="Learners at risk, with reasons")
    def get(self, request: Request, course_id: int) -> Response:
        access_insights_course(user=request.user, course_id=course_id)
        return Response(selectors.at_risk_list(course_id))


class TableViewApi(APIView):
    @extend_schema(responses=TableOutput(many=True), summary="The course's tables: talk balance")
    def get(self, request: Request, course_id: int) -> Response:
        access_insights_course(user=request.user, course_id=course_id)
        return Response(selectors.table_view_get(course_id))


class LearnerTimelineApi(APIView):
    @extend_schema(responses=JSON, summary="One learner's drill-down (staff, or the learner)")
    def get(self, request: Request, course_id: int, user_id: int) -> Response:
        access_insights_learner(user=request.user, course_id=course_id, user_id=user_id)
        return Response(selectors.learner_timeline_get(course_id, user_id))


class LearnerProgressApi(APIView):
    @extend_schema(responses=JSON, summary="My own progress in a course (learners)")
    def get(self, request: Request, course_id: int) -> Response:
        access_insights_self(user=request.user, course_id=course_id)
        return Response(selectors.learner_progress_get(request.user.pk, course_id))


class ProgramOverviewApi(APIView):
    @extend_schema(responses=JSON, summary="A program's courses (program admins)")
    def get(self, request: Request, program_id: int) -> Response:
        program = access_insights_program(user=request.user, program_id=program_id)
        return Response(selectors.program_overview_get(program.pk))


class CourseCsvApi(APIView):
    @extend_schema(
        parameters=[CourseCsvInput],
        responses={(200, "text/csv"): OpenApiTypes.STR},
        summary="A course's CSV: one row per learner, or per learner and session (staff)",
    )
    def get(self, request: Request, course_id: int) -> StreamingHttpResponse:
        access_insights_course(user=request.user, course_id=course_id)
        detail = _query(CourseCsvInput, request).get("detail", "learners")
        lines = (
            exports.course_sessions_csv(course_id)
            if detail == "sessions"
            else exports.course_csv(course_id)
        )
        return _stream(
            request,
            lines,
            filename=f"course-{course_id}-{detail}.csv",
            content_type="text/csv; charset=utf-8",
        )


class CourseXapiApi(APIView):
    @extend_schema(
        responses={(200, "application/x-ndjson"): OpenApiTypes.STR},
        summary="Every event of a course as xAPI statements, one per line (staff)",
    )
    def get(self, request: Request, course_id: int) -> StreamingHttpResponse:
        access_insights_course(user=request.user, course_id=course_id)
        return _stream(
            request,
            statements_jsonl(event_list(course_id=course_id).order_by("id")),
            filename=f"course-{course_id}-xapi.jsonl",
            content_type="application/x-ndjson",
        )


class SessionRollupOutput(serializers.ModelSerializer):
    class Meta:
        model = SessionRollup
        exclude = ["course"]


class RecordingRollupOutput(serializers.ModelSerializer):
    class Meta:
        model = RecordingRollup
        exclude = ["course"]


class CourseRollupOutput(serializers.ModelSerializer):
    class Meta:
        model = CourseRollup
        exclude = ["course"]


def _rollup_page(model, output, request: Request, course_id: int) -> Response:
    """Rows by ascending id after `after`; learners get only their own."""
    access = access_insights_learner(
        user=request.user, course_id=course_id, user_id=request.user.pk
    )
    page = _query(PageInput, request)
    rows = model.objects.filter(course_id=course_id, id__gt=page["after"]).order_by("id")
    if not access.is_staff:
        rows = rows.filter(user=request.user)
    items = list(rows[: page["limit"]])
    return Response(
        {
            "results": output(items, many=True).data,
            "next_after": items[-1].pk if len(items) == page["limit"] else None,
        }
    )


def _page_schema(output, summary: str):
    return extend_schema(
        parameters=[PageInput],
        responses=inline_page(output),
        summary=summary,
    )


def inline_page(output):
    return inline_serializer(
        name=f"{output.__name__}Page",
        fields={
            "results": output(many=True),
            "next_after": serializers.IntegerField(allow_null=True),
        },
    )


class SessionRollupListApi(APIView):
    @_page_schema(SessionRollupOutput, "Rollups per (learner, live session); learners: their own")
    def get(self, request: Request, course_id: int) -> Response:
        return _rollup_page(SessionRollup, SessionRollupOutput, request, course_id)


class RecordingRollupListApi(APIView):
    @_page_schema(RecordingRollupOutput, "Rollups per (learner, recording); learners: their own")
    def get(self, request: Request, course_id: int) -> Response:
        return _rollup_page(RecordingRollup, RecordingRollupOutput, request, course_id)


class CourseRollupListApi(APIView):
    @_page_schema(CourseRollupOutput, "Rollups per (learner, course); learners: their own")
    def get(self, request: Request, course_id: int) -> Response:
        return _rollup_page(CourseRollup, CourseRollupOutput, request, course_id)


class LrsStatusApi(APIView):
    @extend_schema(responses=JSON, summary="The xAPI feed to the LRS: how far, last error (admins)")
    def get(self, request: Request) -> Response:
        access_insights_all(user=request.user)
        return Response(lrs_status_get())
