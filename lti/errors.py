"""The one error of a refused LTI flow: a readable 4xx for the learner, the
reason for the admin (shown on the page and logged)."""

from __future__ import annotations

from core.errors import ApplicationError


class LtiError(ApplicationError):
    status_code = 400
    default_code = "lti_invalid"

    def __init__(self, reason: str, *, code: str, status: int = 400) -> None:
        super().__init__(reason, code=code)
        self.status_code = status
        self.reason = reason
