"""Question bank, session plans and poll results over HTTP (staff prepare
polls before a session; launching and voting happen on the WebSocket)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from classroom.access import access_live_session
from classroom.models import BankQuestion, Poll, PollKind, SessionPlanItem
from classroom.selectors import poll_public_payload, poll_results_get
from classroom.services import polls
from core.api.serializers import InputSerializer
from core.errors import NotFoundError, PermissionDeniedError
from courses.access import CourseAction, access_course


class BankQuestionInput(InputSerializer):
    kind = serializers.ChoiceField(choices=PollKind.choices)
    prompt = serializers.CharField(max_length=500)
    definition = serializers.DictField(
        help_text="options [{text}], correct [ids]; scale; accepted [texts]; correct_value, "
        "tolerance (docs/polls.md: what each kind needs)"
    )
    points = serializers.IntegerField(min_value=0, max_value=100, default=1)


class BankQuestionOutput(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    prompt = serializers.CharField()
    definition = serializers.JSONField()
    points = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class PlanItemInput(InputSerializer):
    question_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    settings = serializers.DictField(
        required=False,
        help_text="scope (class|per_table|one_per_table), timer_seconds, anonymous, allow_change, show_live_results, quiz",
    )


class PlanItemOutput(serializers.Serializer):
    id = serializers.IntegerField()
    position = serializers.IntegerField()
    settings = serializers.JSONField()
    question = BankQuestionOutput()


class PlanReorderInput(InputSerializer):
    items = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        help_text="every plan item id of the session exactly once, in the new order",
    )


class BankQuestionListApi(APIView):
    @extend_schema(
        responses=BankQuestionOutput(many=True), summary="The course question bank (staff)"
    )
    def get(self, request: Request, course_id: int) -> Response:
        access = access_course(user=request.user, course_id=course_id, action=CourseAction.TEACH)
        questions = BankQuestion.objects.filter(course=access.course)
        return Response(BankQuestionOutput(questions, many=True).data)

    @extend_schema(
        request=BankQuestionInput,
        responses={201: BankQuestionOutput},
        summary="Add a question to the bank",
    )
    def post(self, request: Request, course_id: int) -> Response:
        access = access_course(user=request.user, course_id=course_id, action=CourseAction.TEACH)
        payload = BankQuestionInput(data=request.data)
        payload.is_valid(raise_exception=True)
        question = polls.bank_question_create(
            course=access.course, actor=request.user, **payload.validated_data
        )
        return Response(BankQuestionOutput(question).data, status=status.HTTP_201_CREATED)


def _plan(session) -> list[dict]:
    items = (
        SessionPlanItem.objects.filter(session=session)
        .select_related("question")
        .order_by("position", "id")
    )
    return PlanItemOutput(items, many=True).data


class SessionPlanApi(APIView):
    @extend_schema(responses=PlanItemOutput(many=True), summary="The session plan (staff)")
    def get(self, request: Request, session_id: int) -> Response:
        access = access_live_session(
            user=request.user, session_id=session_id, action=CourseAction.TEACH
        )
        return Response(_plan(access.session))

    @extend_schema(
        request=PlanItemInput,
        responses={201: PlanItemOutput(many=True)},
        summary="Add a bank question",
    )
    def post(self, request: Request, session_id: int) -> Response:
        access = access_live_session(
            user=request.user, session_id=session_id, action=CourseAction.TEACH
        )
        payload = PlanItemInput(data=request.data)
        payload.is_valid(raise_exception=True)
        question = BankQuestion.objects.filter(
            pk=payload.validated_data["question_id"], course_id=access.session.course_id
        ).first()
        if question is None:
            raise NotFoundError("No such question in this course.", code="question_not_found")
        polls.session_plan_add(
            session=access.session,
            question=question,
            settings_=payload.validated_data.get("settings"),
        )
        return Response(_plan(access.session), status=status.HTTP_201_CREATED)


class SessionPlanReorderApi(APIView):
    @extend_schema(
        request=PlanReorderInput, responses=PlanItemOutput(many=True), summary="Reorder the plan"
    )
    def post(self, request: Request, session_id: int) -> Response:
        access = access_live_session(
            user=request.user, session_id=session_id, action=CourseAction.TEACH
        )
        payload = PlanReorderInput(data=request.data)
        payload.is_valid(raise_exception=True)
        polls.session_plan_reorder(session=access.session, item_ids=payload.validated_data["items"])
        return Response(_plan(access.session))


class SessionPlanItemApi(APIView):
    @extend_schema(responses={204: None}, summary="Remove a plan item")
    def delete(self, request: Request, session_id: int, item_id: int) -> Response:
        access = access_live_session(
            user=request.user, session_id=session_id, action=CourseAction.TEACH
        )
        polls.session_plan_remove(session=access.session, item_id=item_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PollResultsOutput(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    prompt = serializers.CharField()
    definition = serializers.JSONField()
    state = serializers.CharField()
    published = serializers.BooleanField()
    results = serializers.JSONField(help_text="docs/polls.md, 'Results payload'")


class PollResultsApi(APIView):
    @extend_schema(
        responses=PollResultsOutput,
        summary="A poll with its results: staff always, learners once published",
    )
    def get(self, request: Request, session_id: int, poll_id: int) -> Response:
        access = access_live_session(user=request.user, session_id=session_id)
        poll = (
            Poll.objects.filter(pk=poll_id, session=access.session)
            .select_related("session")
            .first()
        )
        if poll is None:
            raise NotFoundError("No such poll.", code="poll_not_found")
        if not access.is_staff and poll.published_at is None:
            raise PermissionDeniedError(
                "The results are not published yet.", code="results_not_published"
            )
        return Response(
            {
                **poll_public_payload(poll),
                "results": poll_results_get(poll=poll, for_staff=access.is_staff),
            }
        )
