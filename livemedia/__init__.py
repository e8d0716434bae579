"""The media plane: Django drives Janus (VideoRoom) and decides who receives whom.

Modules: `conf` (settings and derived secrets), `janus_config` (generates the
Janus configuration folder), `janus` (asyncio client of Janus's WebSocket API),
`policy` (who may receive and be recorded, from the room mode), `services`
(rooms, talk time, TURN credentials, the mode hook), `recording` (start, pause,
stop), `consumers` (the /ws/media/<session>/ signalling relay), `views` (the
event-handler intake and the media page). See docs/media.md.
"""
