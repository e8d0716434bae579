"""The room kernel: what every realtime room (a live session, a playback
room) shares, written once.

    streams.py   stream -> group routing and visibility (`Streams`)
    frames.py    `encode`, the sequence row and `emit`, the typed-frame registry
    actions.py   client-action idempotency (one rule: a duplicate client id
                 replays the first result) and the `Action` table entries
    consumer.py  `RoomConsumer`: authenticate, access, follow, snapshot or
                 resync, dispatch through the room's action table, ack/error
    flushes.py   coalesced ephemeral flushes, scheduled by services on commit
    limits.py    the one rate limiter (`rate_limit`)

Adding a kind of room (e.g. the per-user notification stream) takes one file
per concern in its app, and nothing here:

1. access: a function `(user, scope_id) -> courses.access.MemberAccess subclass` raising
   ApplicationError when the user may not connect;
2. snapshot selector: `(access) -> dict` with the room's `seq`;
3. payloads and frames (events.py): a `Streams(prefix)` instance, TypedDict
   payloads registered with `frames.frame_type`, and functions calling
   `frames.emit(row, streams, ...)` on the locked row that holds `seq` and
   `stream_heads`;
4. action table (consumers.py): `ACTIONS = {"type": Action(handler, ...)}`
   and a `RoomConsumer` subclass naming the URL kwarg, the streams, the
   access function, the snapshot selector and the client-action model.
"""
