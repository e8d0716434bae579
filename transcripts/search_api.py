"""GET /api/courses/<id>/transcripts/search/: search a course's transcripts
(docs/api.md, docs/search.md)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.schema import ErrorResponse
from core.api.serializers import InputSerializer
from courses.access import access_course
from transcripts.search import (
    LIMIT_DEFAULT,
    LIMIT_MAX,
    OFFSET_MAX,
    QUERY_MAX_CHARS,
    course_transcript_search,
    query_clean,
)


class SearchInput(InputSerializer):
    q = serializers.CharField(
        required=False,
        default="",
        allow_blank=True,
        trim_whitespace=False,
        help_text=f"words or a phrase: at most {QUERY_MAX_CHARS} characters, at least one "
        "letter or digit, at most 20 words; empty or missing: `query_empty` "
        '(PostgreSQL: websearch syntax, `"a phrase"`, `-word`, `or`)',
    )
    limit = serializers.IntegerField(min_value=1, max_value=LIMIT_MAX, default=LIMIT_DEFAULT)
    offset = serializers.IntegerField(min_value=0, max_value=OFFSET_MAX, default=0)


class SearchHitOutput(serializers.Serializer):
    cue_id = serializers.IntegerField()
    recording_id = serializers.IntegerField()
    recording_title = serializers.CharField()
    live_session_id = serializers.IntegerField(allow_null=True)
    start_ms = serializers.IntegerField()
    end_ms = serializers.IntegerField()
    time = serializers.CharField()
    speaker = serializers.CharField()
    text = serializers.CharField()
    snippet_html = serializers.CharField(help_text="the text, HTML-escaped, hits in <mark>")
    rank = serializers.FloatField()
    url = serializers.CharField(help_text="the recording's page starting at the moment")
    start_s = serializers.IntegerField(
        help_text="where a room opened for this hit starts (POST t to the room-open page)"
    )


class SearchOutput(serializers.Serializer):
    query = serializers.CharField()
    count = serializers.IntegerField()
    limit = serializers.IntegerField()
    offset = serializers.IntegerField()
    engine = serializers.CharField(help_text="postgres (full text) or basic (icontains)")
    results = SearchHitOutput(many=True)


class CourseTranscriptSearchApi(APIView):
    @extend_schema(
        parameters=[SearchInput],
        responses={
            200: SearchOutput,
            400: OpenApiResponse(
                ErrorResponse,
                description="A bad query: `query_empty`, `query_no_words`, `query_too_long`, "
                "or a bad `limit` / `offset` (`invalid`).",
            ),
        },
        summary="Search the transcripts of a course's recordings I may watch",
    )
    def get(self, request: Request, course_id: int) -> Response:
        access = access_course(user=request.user, course_id=course_id)
        params = SearchInput(data=request.query_params.dict())
        params.is_valid(raise_exception=True)
        query = query_clean(params.validated_data["q"])
        page = course_transcript_search(
            course=access.course,
            is_staff=access.is_staff,
            query=query,
            limit=params.validated_data["limit"],
            offset=params.validated_data["offset"],
        )
        return Response(
            {
                "query": page.query,
                "count": page.count,
                "limit": page.limit,
                "offset": page.offset,
                "engine": page.engine,
                "results": page.hits,
            }
        )
