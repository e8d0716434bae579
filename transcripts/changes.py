"""transcripts' extension point for the apps above it (core/hooks.py).

=================  =====================================  ==========================
hook               called by                              registered by
=================  =====================================  ==========================
transcript_changed the transcript became ready, was       recaps (rebuild the
                   replaced (upload, new run) or edited   session's recap)
=================  =====================================  ==========================
"""

from __future__ import annotations

from core.hooks import Hook

transcript_changed = Hook(
    "transcript_changed",
    "transcript_changed(recording_id=int): a recording's ready transcript was "
    "made, replaced or edited; called inside the writing transaction (act after commit).",
)
