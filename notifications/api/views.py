"""My notifications and my notification preferences over HTTP (docs/api.md).
One view per operation; the live count comes over the notification socket."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.schema import ErrorResponse
from core.api.serializers import InputSerializer
from notifications.access import access_notification
from notifications.events import notification_data
from notifications.kinds import FREQUENCIES
from notifications.selectors import notifications_list, preferences_get, unread_count_get
from notifications.services.notifications import notification_read, notifications_read_all
from notifications.services.preferences import preferences_update


class NotificationOutput(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    title = serializers.CharField()
    body = serializers.CharField()
    url = serializers.CharField(help_text="Site-relative link to what it is about.")
    open_url = serializers.CharField(help_text="Follow this to open it (recorded as opened).")
    course_id = serializers.IntegerField(allow_null=True)
    shown_at = serializers.DateTimeField()
    read = serializers.BooleanField()


class NotificationPageOutput(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    unread_count = serializers.IntegerField()
    results = NotificationOutput(many=True)


class UnreadCountOutput(serializers.Serializer):
    unread_count = serializers.IntegerField()


class ReadOutput(serializers.Serializer):
    read = serializers.BooleanField(help_text="False if it already was.")
    unread_count = serializers.IntegerField()


class ReadAllOutput(serializers.Serializer):
    count = serializers.IntegerField(help_text="How many were unread.")
    unread_count = serializers.IntegerField()


# The services check these values (and say which rule failed: `unknown_kind`,
# `unknown_channel`, `unknown_frequency`, `invalid_quiet_hours`); the
# serializers only check the shape.
class QuietHoursSerializer(InputSerializer):
    enabled = serializers.BooleanField(required=False)
    start = serializers.CharField(required=False, help_text="HH:MM, the learner's local time.")
    end = serializers.CharField(
        required=False,
        help_text="HH:MM, the learner's local time; not equal to start while enabled.",
    )


class KindPreferencesOutput(serializers.Serializer):
    kind = serializers.CharField()
    label = serializers.CharField()
    description = serializers.CharField()
    channels = serializers.DictField(
        child=serializers.CharField(), help_text="channel → immediately | daily | weekly | off"
    )


class PreferencesOutput(serializers.Serializer):
    kinds = KindPreferencesOutput(many=True)
    quiet_hours = QuietHoursSerializer()
    time_zone = serializers.CharField()
    daily_cap = serializers.IntegerField()


class PreferencesInput(InputSerializer):
    kinds = serializers.DictField(
        child=serializers.DictField(child=serializers.CharField()),
        required=False,
        help_text='{"<kind>": {"<channel>": "<frequency>"}}: registered kinds, the channels '
        f"each is sent by (GET lists them), frequencies {', '.join(FREQUENCIES)}.",
    )
    quiet_hours = QuietHoursSerializer(required=False)
    daily_cap = serializers.IntegerField(required=False, min_value=1, max_value=100)


class NotificationListQuery(InputSerializer):
    unread = serializers.BooleanField(required=False, help_text="Only unread ones.")
    page = serializers.IntegerField(required=False, min_value=1)
    page_size = serializers.IntegerField(
        required=False, min_value=1, max_value=100, help_text="Default 20."
    )


class NotificationPagination(PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


class NotificationListApi(APIView):
    @extend_schema(
        parameters=[NotificationListQuery],
        responses={
            200: NotificationPageOutput,
            400: OpenApiResponse(ErrorResponse, description="A bad query parameter (`invalid`)."),
            404: OpenApiResponse(ErrorResponse, description="No such page (`not_found`)."),
        },
        summary="My notifications, newest first (paginated)",
    )
    def get(self, request: Request) -> Response:
        query = NotificationListQuery(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        unread_only = query.validated_data.get("unread", False)
        paginator = NotificationPagination()
        page = paginator.paginate_queryset(
            notifications_list(user=request.user, unread_only=unread_only), request, view=self
        )
        return Response(
            {
                "count": paginator.page.paginator.count,
                "next": paginator.get_next_link(),
                "previous": paginator.get_previous_link(),
                "unread_count": unread_count_get(user_id=request.user.pk),
                "results": [notification_data(n) for n in page],
            }
        )


class UnreadCountApi(APIView):
    @extend_schema(responses=UnreadCountOutput, summary="How many of my notifications are unread")
    def get(self, request: Request) -> Response:
        return Response({"unread_count": unread_count_get(user_id=request.user.pk)})


class NotificationReadApi(APIView):
    @extend_schema(request=None, responses=ReadOutput, summary="Mark one of my notifications read")
    def post(self, request: Request, notification_id: int) -> Response:
        notification = access_notification(user=request.user, notification_id=notification_id)
        read = notification_read(notification=notification)
        return Response({"read": read, "unread_count": unread_count_get(user_id=request.user.pk)})


class NotificationReadAllApi(APIView):
    @extend_schema(request=None, responses=ReadAllOutput, summary="Mark all my notifications read")
    def post(self, request: Request) -> Response:
        count = notifications_read_all(user=request.user)
        return Response({"count": count, "unread_count": 0})


class PreferencesApi(APIView):
    @extend_schema(responses=PreferencesOutput, summary="My notification preferences")
    def get(self, request: Request) -> Response:
        return Response(preferences_get(user=request.user))

    @extend_schema(
        request=PreferencesInput,
        responses=PreferencesOutput,
        summary="Change my notification preferences (only what is sent changes)",
    )
    def patch(self, request: Request) -> Response:
        payload = PreferencesInput(data=request.data)
        payload.is_valid(raise_exception=True)
        preferences_update(user=request.user, **payload.validated_data)
        return Response(preferences_get(user=request.user))
