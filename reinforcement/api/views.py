"""Reinforcement over HTTP (docs/api.md): my due cards, answering one, my
follow-up; staff: a session's plan (read, hold, drop a question, edit the
message, send now), the course's settings and review statistics."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.serializers import InputSerializer
from core.errors import NotAuthenticatedError, NotFoundError
from courses.access import CourseAction
from reinforcement.access import access_course_reinforcement, access_followup_plan
from reinforcement.models import RETENTION_MAX, RETENTION_MIN
from reinforcement.selectors import (
    card_course_id,
    card_question_payload,
    course_review_stats,
    course_settings_get,
    due_cards_list,
    followup_items_list,
    plan_for_session,
    plan_summary_get,
    review_progress_get,
)
from reinforcement.services import planning, reviews
from reinforcement.services.settings import course_settings_update


class ReviewCardOutput(serializers.Serializer):
    card_id = serializers.IntegerField()
    version = serializers.IntegerField(help_text="send it back with the answer (stale check)")
    question_key = serializers.CharField()
    due = serializers.DateTimeField()
    session_title = serializers.CharField()
    asked_at = serializers.DateTimeField()
    kind = serializers.CharField()
    prompt = serializers.CharField()
    definition = serializers.JSONField(help_text="options / scale / max_choices, never the answer")


class ReviewProgressOutput(serializers.Serializer):
    done = serializers.IntegerField()
    due = serializers.IntegerField()
    total = serializers.IntegerField()
    percent = serializers.IntegerField()
    next_due_at = serializers.DateTimeField(allow_null=True)


class ReviewDueOutput(serializers.Serializer):
    cards = ReviewCardOutput(many=True)
    progress = ReviewProgressOutput()


class ReviewAnswerInput(InputSerializer):
    request_id = serializers.CharField(
        max_length=64, help_text="the client's id for this answer: a retry with it is applied once"
    )
    answer = serializers.JSONField(
        help_text='{"option": id} | {"options": [ids]} | {"text": "..."} | {"value": n}'
    )
    version = serializers.IntegerField(required=False, min_value=0, max_value=2**31 - 1)
    elapsed_ms = serializers.IntegerField(required=False, min_value=0, max_value=2**31 - 1)
    warmup_session_id = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)


class ReviewPracticeInput(InputSerializer):
    request_id = serializers.CharField(max_length=64)
    poll_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    answer = serializers.JSONField()


class ReviewAnswerOutput(serializers.Serializer):
    correct = serializers.BooleanField(allow_null=True)
    correct_answer = serializers.JSONField()
    explanation = serializers.CharField()
    class_result = serializers.JSONField()
    rewatch_url = serializers.CharField()
    card_id = serializers.IntegerField(required=False)
    poll_id = serializers.IntegerField(required=False)
    rating = serializers.CharField(required=False)
    next_due = serializers.DateTimeField(required=False)
    replayed = serializers.BooleanField()


class FollowupItemOutput(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    key = serializers.CharField()
    question_key = serializers.CharField()
    title = serializers.CharField()
    explanation = serializers.CharField()
    url = serializers.CharField()
    due_at = serializers.DateTimeField(allow_null=True)


class FollowupGroupOutput(serializers.Serializer):
    session_id = serializers.IntegerField()
    session_title = serializers.CharField()
    message = serializers.CharField()
    sent_at = serializers.DateTimeField(allow_null=True)
    items = FollowupItemOutput(many=True)


class FollowupPlanOutput(serializers.Serializer):
    session_id = serializers.IntegerField()
    course_id = serializers.IntegerField()
    status = serializers.CharField()
    hold_until = serializers.DateTimeField(allow_null=True)
    sent_at = serializers.DateTimeField(allow_null=True)
    message = serializers.CharField(allow_blank=True)
    dropped = serializers.ListField(child=serializers.CharField())
    sources = serializers.ListField(child=serializers.CharField())
    recording_id = serializers.IntegerField(allow_null=True)
    questions = serializers.JSONField()
    counts = serializers.JSONField()
    learners = serializers.JSONField()


class FollowupHoldInput(InputSerializer):
    hold = serializers.BooleanField(
        help_text="true: keep until sent by hand; false: release at the window's end"
    )


class FollowupDropInput(InputSerializer):
    question_key = serializers.CharField(max_length=40)
    dropped = serializers.BooleanField(default=True)


class FollowupMessageInput(InputSerializer):
    message = serializers.CharField(allow_blank=True, max_length=2000, trim_whitespace=False)


class ReinforcementSettingsSerializer(InputSerializer):
    is_enabled = serializers.BooleanField(required=False)
    hold_minutes = serializers.IntegerField(required=False, min_value=0, max_value=7 * 24 * 60)
    desired_retention = serializers.FloatField(
        required=False, min_value=RETENTION_MIN, max_value=RETENTION_MAX
    )
    participation_talk_seconds = serializers.IntegerField(
        required=False, min_value=0, max_value=3600
    )
    warmup_size = serializers.IntegerField(required=False, min_value=0, max_value=50)
    deadline_enabled = serializers.BooleanField(required=False)
    course_ends_on = serializers.DateField(required=False, allow_null=True)


def _settings_data(conf) -> dict:
    return {field: getattr(conf, field) for field in ReinforcementSettingsSerializer().fields}


class MyDueCardsApi(APIView):
    @extend_schema(
        responses=ReviewDueOutput, summary="My review cards due now, and today's progress"
    )
    def get(self, request: Request, course_id: int) -> Response:
        access = access_course_reinforcement(
            user=request.user, course_id=course_id, action=CourseAction.PARTICIPATE
        )
        now = timezone.now()
        cards = due_cards_list(user=request.user, course_id=access.course.pk, now=now)
        return Response(
            ReviewDueOutput(
                {
                    "cards": [card_question_payload(card) for card in cards],
                    "progress": review_progress_get(
                        user=request.user, course_id=access.course.pk, now=now
                    ),
                }
            ).data
        )


class CardAnswerApi(APIView):
    @extend_schema(
        request=ReviewAnswerInput,
        responses=ReviewAnswerOutput,
        summary="Answer one of my due review cards (graded on the server, rescheduled)",
    )
    def post(self, request: Request, card_id: int) -> Response:
        if not request.user.is_authenticated:
            raise NotAuthenticatedError()
        course_id = card_course_id(user=request.user, card_id=card_id)
        if course_id is None:
            raise NotFoundError("No such review card.", code="card_not_found")
        access_course_reinforcement(
            user=request.user, course_id=course_id, action=CourseAction.PARTICIPATE
        )
        payload = ReviewAnswerInput(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        result = reviews.card_answer(
            user=request.user,
            card_id=card_id,
            answer=data["answer"],
            request_id=data["request_id"],
            version=data.get("version"),
            elapsed_ms=data.get("elapsed_ms"),
            warmup_session_id=data.get("warmup_session_id"),
        )
        return Response(ReviewAnswerOutput(result).data)


class PracticeAnswerApi(APIView):
    @extend_schema(
        request=ReviewPracticeInput,
        responses=ReviewAnswerOutput,
        summary="Answer a past session's question on demand (not a scheduled review)",
    )
    def post(self, request: Request, course_id: int) -> Response:
        access = access_course_reinforcement(
            user=request.user, course_id=course_id, action=CourseAction.PARTICIPATE
        )
        payload = ReviewPracticeInput(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        result = reviews.practice_answer(
            user=request.user,
            course_id=access.course.pk,
            poll_id=data["poll_id"],
            answer=data["answer"],
            request_id=data["request_id"],
        )
        return Response(ReviewAnswerOutput(result).data)


class MyFollowupsApi(APIView):
    @extend_schema(
        responses=FollowupGroupOutput(many=True), summary="My follow-up items, by session"
    )
    def get(self, request: Request, course_id: int) -> Response:
        access = access_course_reinforcement(user=request.user, course_id=course_id)
        groups = followup_items_list(user=request.user, course_id=access.course.pk)
        return Response(FollowupGroupOutput(groups, many=True).data)


def _plan_response(session_id: int) -> Response:
    return Response(
        FollowupPlanOutput(plan_summary_get(plan=plan_for_session(session_id=session_id))).data
    )


class FollowupPlanApi(APIView):
    @extend_schema(responses=FollowupPlanOutput, summary="A session's follow-up plan (staff)")
    def get(self, request: Request, session_id: int) -> Response:
        access = access_followup_plan(user=request.user, session_id=session_id)
        return Response(FollowupPlanOutput(plan_summary_get(plan=access.plan)).data)


class FollowupPlanHoldApi(APIView):
    @extend_schema(
        request=FollowupHoldInput, responses=FollowupPlanOutput, summary="Hold or release a plan"
    )
    def post(self, request: Request, session_id: int) -> Response:
        access = access_followup_plan(user=request.user, session_id=session_id)
        payload = FollowupHoldInput(data=request.data)
        payload.is_valid(raise_exception=True)
        planning.followup_plan_hold(
            plan_id=access.plan.pk, actor=request.user, hold=payload.validated_data["hold"]
        )
        return _plan_response(session_id)


class FollowupPlanDropApi(APIView):
    @extend_schema(
        request=FollowupDropInput,
        responses=FollowupPlanOutput,
        summary="Drop a question from review, or restore it",
    )
    def post(self, request: Request, session_id: int) -> Response:
        access = access_followup_plan(user=request.user, session_id=session_id)
        payload = FollowupDropInput(data=request.data)
        payload.is_valid(raise_exception=True)
        planning.followup_plan_question_drop(
            plan_id=access.plan.pk,
            actor=request.user,
            question_key=payload.validated_data["question_key"],
            dropped=payload.validated_data["dropped"],
        )
        return _plan_response(session_id)


class FollowupPlanMessageApi(APIView):
    @extend_schema(
        request=FollowupMessageInput,
        responses=FollowupPlanOutput,
        summary="Edit the plan's message",
    )
    def post(self, request: Request, session_id: int) -> Response:
        access = access_followup_plan(user=request.user, session_id=session_id)
        payload = FollowupMessageInput(data=request.data)
        payload.is_valid(raise_exception=True)
        planning.followup_plan_message_set(
            plan_id=access.plan.pk, actor=request.user, message=payload.validated_data["message"]
        )
        return _plan_response(session_id)


class FollowupPlanSendApi(APIView):
    @extend_schema(request=None, responses=FollowupPlanOutput, summary="Send the plan now")
    def post(self, request: Request, session_id: int) -> Response:
        access = access_followup_plan(user=request.user, session_id=session_id)
        planning.followup_plan_send_soon(plan_id=access.plan.pk, actor=request.user)
        return _plan_response(session_id)


class CourseSettingsApi(APIView):
    @extend_schema(
        responses=ReinforcementSettingsSerializer,
        summary="The course's reinforcement settings (staff)",
    )
    def get(self, request: Request, course_id: int) -> Response:
        access = access_course_reinforcement(
            user=request.user, course_id=course_id, action=CourseAction.TEACH
        )
        return Response(_settings_data(course_settings_get(course_id=access.course.pk)))

    @extend_schema(
        request=ReinforcementSettingsSerializer,
        responses=ReinforcementSettingsSerializer,
        summary="Change the course's reinforcement settings (instructors)",
    )
    def patch(self, request: Request, course_id: int) -> Response:
        access = access_course_reinforcement(
            user=request.user, course_id=course_id, action=CourseAction.MANAGE
        )
        payload = ReinforcementSettingsSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        conf = course_settings_update(
            course=access.course, actor=request.user, changes=dict(payload.validated_data)
        )
        return Response(_settings_data(conf))


class ReviewLearnerStatsOutput(serializers.Serializer):
    user_id = serializers.IntegerField()
    name = serializers.CharField()
    cards = serializers.IntegerField()
    due = serializers.IntegerField()
    overdue = serializers.IntegerField()
    mean_recall = serializers.FloatField(allow_null=True)
    reviews = serializers.IntegerField()
    has_started = serializers.BooleanField()


class ReviewStatsOutput(serializers.Serializer):
    cards = serializers.IntegerField()
    questions = serializers.JSONField(help_text="most-missed first, each with taught_url")
    learners = ReviewLearnerStatsOutput(many=True)
    not_started = ReviewLearnerStatsOutput(many=True)


class CourseReviewStatsApi(APIView):
    @extend_schema(responses=ReviewStatsOutput, summary="The course's review statistics (staff)")
    def get(self, request: Request, course_id: int) -> Response:
        access = access_course_reinforcement(
            user=request.user, course_id=course_id, action=CourseAction.TEACH
        )
        stats = course_review_stats(course_id=access.course.pk, now=timezone.now())
        return Response(ReviewStatsOutput(stats).data)
