from __future__ import annotations

import pytest

from core.errors import (
    ApplicationError,
    ConflictError,
    NotFoundError,
    RateLimitedError,
    ValidationError,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (ValidationError(details={"title": "required"}), 400, "invalid"),
        (NotFoundError(), 404, "not_found"),
        (ConflictError(code="poll_closed"), 409, "poll_closed"),
        (RateLimitedError(), 429, "rate_limited"),
    ],
)
def test_application_errors_become_json_4xx(error, status, code):
    from rest_framework.test import APIRequestFactory
    from rest_framework.views import APIView

    class Failing(APIView):
        authentication_classes: list = []
        permission_classes: list = []

        def get(self, request):
            raise error

    response = Failing.as_view()(APIRequestFactory().get("/api/x/"))
    assert response.status_code == status
    assert response.data["error"]["code"] == code
    assert response.data["error"]["message"]
    assert ApplicationError in type(error).__mro__


def test_api_login_required_is_a_json_401_or_403(client):
    response = client.get("/api/courses/")
    assert response.status_code in (401, 403)
    assert response.json()["error"]["code"] == "not_authenticated"


def test_drf_validation_errors_share_the_shape(client, instructor, course):
    client.force_login(instructor)
    response = client.post(
        f"/api/courses/{course.pk}/sessions/schedule/", {}, content_type="application/json"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert set(error["details"]) == {"title", "scheduled_start", "scheduled_end"}


def test_unknown_api_path_is_a_json_404(client, learner):
    client.force_login(learner)
    response = client.get("/api/nothing-here/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
