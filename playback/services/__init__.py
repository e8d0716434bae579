"""Every write of the playback app, one module per part:

- `recordings`: uploads (checked with PyAV), settings, the demo recording;
- `timeline`: building a recording's timeline from the live session;
- `rooms`: opening rooms, presence, the synchronised play state, chat, reactions;
- `answers`: the live polls answered while watching;
- `notes`: time-synced notes;
- `progress`: heartbeats, watched segments, completion.
"""

from playback.services.recordings import demo_recording_ensure

__all__ = ["demo_recording_ensure"]
