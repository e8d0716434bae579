"""What insights does when the apps below call their hooks."""

from __future__ import annotations

from django.db import transaction


def session_ended(*, session_id: int, actor=None, **_kwargs) -> None:
    """Finalise the session's rollups once its end is committed."""
    from insights.tasks import rollups_session_finalise

    transaction.on_commit(lambda: rollups_session_finalise.delay(session_id))
