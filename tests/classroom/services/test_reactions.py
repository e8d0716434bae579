"""classroom/services/reactions.py: reaction bursts, their counts, their
batched events and their limits."""

from __future__ import annotations

import pytest

from analytics.models import LearningEvent
from classroom.services import reactions, sessions
from core.errors import ConflictError, RateLimitedError, ValidationError

pytestmark = pytest.mark.django_db


def test_reactions_are_counted_per_learner_and_burst(live, seated):
    reactions.reaction_send(session_id=live.pk, user=seated["learner"], kind="clap")
    reactions.reaction_send(session_id=live.pk, user=seated["learner"], kind="clap")
    reactions.reaction_send(session_id=live.pk, user=seated["mate"], kind="slower")
    with pytest.raises(ValidationError):
        reactions.reaction_send(session_id=live.pk, user=seated["mate"], kind="rocket")
    assert reactions.reaction_burst_take(live.pk) == {"clap": 2, "slower": 1}
    assert reactions.reaction_burst_take(live.pk) == {}
    # Accepted without a database write; the flush writes events and counts.
    assert not LearningEvent.objects.filter(verb="reacted").exists()
    assert reactions.reactions_persist(live.pk) == 3
    assert reactions.reactions_persist(live.pk) == 0
    from classroom.selectors import engagement_list

    learners = engagement_list(session_id=live.pk)["learners"]
    assert learners[str(seated["learner"].pk)]["reactions"] == {"clap": 2}
    assert learners[str(seated["mate"].pk)]["reactions"] == {"slower": 1}
    assert learners[str(seated["learner"].pk)]["active"]["reacted"] is True
    stored = LearningEvent.objects.filter(verb="reacted", live_session_id=live.pk)
    assert sorted(e.extensions["reaction"] for e in stored) == ["clap", "clap", "slower"]
    assert {e.actor_id for e in stored} == {seated["learner"].pk, seated["mate"].pk}


def test_a_repeated_reaction_frame_counts_once(live, seated):
    learner = seated["learner"]
    assert reactions.reaction_send(session_id=live.pk, user=learner, kind="clap", client_id="r1")
    assert not reactions.reaction_send(
        session_id=live.pk, user=learner, kind="clap", client_id="r1"
    )
    assert reactions.reactions_persist(live.pk) == 1


def test_a_failed_reaction_write_keeps_the_batch(live, seated, monkeypatch):
    reactions.reaction_send(session_id=live.pk, user=seated["learner"], kind="laugh")

    def broken(session_id, items):
        raise RuntimeError("database down")

    monkeypatch.setattr(reactions, "_persist", broken)
    with pytest.raises(RuntimeError):
        reactions.reactions_persist(live.pk)
    monkeypatch.undo()
    assert reactions.reactions_persist(live.pk) == 1
    assert LearningEvent.objects.filter(verb="reacted").count() == 1


def test_no_reaction_once_the_session_ended(live, seated, instructor):
    sessions.live_session_end(session_id=live.pk, actor=instructor)
    with pytest.raises(ConflictError):
        reactions.reaction_send(session_id=live.pk, user=seated["learner"], kind="clap")


def test_reaction_rate_limit(live, seated):
    for _ in range(10):
        reactions.reaction_send(session_id=live.pk, user=seated["learner"], kind="laugh")
    with pytest.raises(RateLimitedError):
        reactions.reaction_send(session_id=live.pk, user=seated["learner"], kind="laugh")
    # A refused reaction is not stored.
    assert reactions.reactions_persist(live.pk) == 10
