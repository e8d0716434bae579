"""The media plane: Django drives Janus (VideoRoom) and decides who receives whom.

A top-level app above `classroom` (it reads the live room; the live room
reaches it only through `classroom.hooks`, registered in `hooks.py`).

Modules: `conf` (settings and derived secrets), `janus_config` (generates the
Janus configuration folder), `janus` (asyncio client of Janus's WebSocket API),
`policy` (who may receive and be recorded, from the room mode), `services`
(rooms, talk time, TURN credentials, mute locks, the mode hook), `events`
(every frame it publishes), `state` (the room state a connection applies,
read once per change), `recording` (start, pause, stop; rows through the
store playback registers), `consumers` (the /ws/media/<session>/ signalling
relay), `views` (the event-handler intake and the media page). See
docs/media.md.
"""
