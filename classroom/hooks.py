"""The live room's extension points for the apps above it (see core/hooks.py).

`classroom` must not import `livemedia` or `playback` (import-linter contract
in pyproject.toml). Where the live room's flow continues in those apps, it
calls one of these hooks; they register in their `AppConfig.ready()`:

=====================  ======================  ================================
hook                   called by               registered by
=====================  ======================  ================================
mode_applied           mode/podium/seating     livemedia (re-subscribe media)
session_ended          live_session_end        livemedia (stop the recording),
                                               reinforcement (plan the follow-up),
                                               insights (finalise the rollups)
live_page_context      the live page view      livemedia (`media_config`),
                                               insights (console panel)
past_sessions_shown    the course page view    playback (each session's replay)
course_page_links      the course page view    lti (the LMS services page),
                                               reinforcement (review, follow-up),
                                               insights (dashboard, My progress)
demo_seeded            manage.py seed_demo     playback (the demo recording)
session_review_scores  lti grade passback      reinforcement (review completion)
=====================  ======================  ================================
"""

from __future__ import annotations

from core.hooks import Hook

mode_applied = Hook(
    "mode_applied",
    "mode_applied(session_id=int): who hears whom may have changed; called "
    "inside the transaction that changed it (act after commit).",
)
session_ended = Hook(
    "session_ended",
    "session_ended(session_id=int, actor=User): called inside "
    "`live_session_end`'s transaction, after the session row is ENDED.",
)
live_page_context = Hook(
    "live_page_context",
    "live_page_context(access=LiveSessionAccess) -> dict: extra template "
    "context for the live page.",
)
past_sessions_shown = Hook(
    "past_sessions_shown",
    "past_sessions_shown(sessions=list[LiveSession], is_staff=bool): annotate "
    "the course page's past sessions (e.g. `session.replay`).",
)
course_page_links = Hook(
    "course_page_links",
    "course_page_links(course=Course, is_staff=bool) -> list[dict]: links "
    "({label, url}) the course page shows its staff in 'Connected services'; "
    "a link with place='head' is a button under the course title instead, "
    "shown to whoever the hook returned it for; a link with section='learning' "
    "is shown to every member under 'Between sessions'.",
)
demo_seeded = Hook(
    "demo_seeded",
    "demo_seeded(course=Course, stdout=OutputWrapper): seed_demo has created "
    "the demo course, people and sessions; add this app's demo data.",
)
session_review_scores = Hook(
    "session_review_scores",
    "session_review_scores(session=LiveSession, learner_ids=set[int]) -> "
    "dict[int, float] | None: per learner, the share (0..1) of the session's "
    "follow-up review done; None while the session has no review to grade. "
    "The gradebook offers 'review completion' only when a function is registered.",
)
