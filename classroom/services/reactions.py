"""Reactions: accepted in Redis on the hot path, written to the database in batches.

A reaction is the most frequent act of a live class (a room of 150 can send
dozens a second) and the least durable one: it is shown for a moment and
counted per learner for staff. Accepting one is a single Redis script (the
client frame id claimed once, the per-user sliding-window limit, the pending
list, the burst counter) with no database statement; the coalesced engagement
flush, at most every 2 s per session, first writes the pending ones as
`reacted` learning events and per-learner counts in one transaction
(`reactions_persist`), then sends staff the markers that include them. docs/realtime.md and docs/performance.md say why.

If the database write fails, the batch goes back to the front of the pending
list for the next flush. Events are idempotent on their id, so a batch written
twice stores its events once; the per-learner counts of such a batch (a
process dying between the commit and the trim) may count twice.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import defaultdict, deque
from datetime import UTC, datetime

from django.db import transaction
from django.utils.translation import gettext as _

from analytics.services import events_record_many
from classroom.models import LiveSession, Participant
from classroom.services import common, ephemeral
from classroom.services.common import session_live_require
from classroom.services.room import REACTION_LIMIT, REACTIONS
from core import kv
from core.errors import ValidationError
from core.namespace import deployment_namespace
from core.rooms.limits import over_limit

BATCH = 1000
DEDUP_SECONDS = 900

# KEYS: dedup, rate window (sorted set), pending list, burst counter
# ARGV: now ms, window ms, limit, item, "1" if there is a frame id, window member
_ACCEPT = """
if ARGV[5] == '1' then
  if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', 900) then return 0 end
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3]) then
  if ARGV[5] == '1' then redis.call('DEL', KEYS[1]) end
  return -1
end
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[6])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('RPUSH', KEYS[3], ARGV[4])
redis.call('EXPIRE', KEYS[3], 86400)
redis.call('INCR', KEYS[4])
redis.call('EXPIRE', KEYS[4], 60)
return 1
"""


def _base(session_id: int) -> str:
    return f"roundtable:rx:{deployment_namespace()}:{session_id}"


def _pending_key(session_id: int) -> str:
    return f"{_base(session_id)}:pending"


def _keys(session_id: int, user_id: int, kind: str, client_id: str | None) -> list[str]:
    base = _base(session_id)
    return [
        f"{base}:id:{user_id}:{client_id or ''}",
        f"{base}:rate:{user_id}",
        _pending_key(session_id),
        f"roundtable:count:reactions:{session_id}:{kind}",
    ]


def _args(user_id: int, kind: str, client_id: str | None) -> list:
    limit, seconds = REACTION_LIMIT
    now_ms = int(time.time() * 1000)
    event_id = uuid.uuid4().hex
    item = json.dumps({"u": user_id, "k": kind, "t": now_ms, "e": event_id})
    return [now_ms, seconds * 1000, limit, item, "1" if client_id else "0", event_id]


def _verdict(result: int) -> bool:
    if result < 0:  # the script counted this one past the limit
        limit, _seconds = REACTION_LIMIT
        over_limit(limit + 1, limit)
    return result == 1


def reaction_validate(kind) -> str:
    if kind not in REACTIONS:
        raise ValidationError(
            _("Unknown reaction."), code="invalid_reaction", details={"kind": list(REACTIONS)}
        )
    return kind


def reaction_send(*, session_id: int, user, kind: str, client_id: str | None = None) -> bool:
    """Accept one reaction of a live session; False if this frame id was
    already accepted. Raises `rate_limited` past REACTION_LIMIT."""
    reaction_validate(kind)
    session_live_require(session_id)
    keys, args = _keys(session_id, user.pk, kind, client_id), _args(user.pk, kind, client_id)
    client = kv.sync_client()
    if client is None:
        return _verdict(_memory_accept(keys, args))
    return _verdict(int(client.eval(_ACCEPT, len(keys), *keys, *args)))


async def reaction_send_async(
    *, session_id: int, user_id: int, kind: str, client_id: str | None
) -> bool:
    """`reaction_send` for the consumer, once the session is known to be live."""
    reaction_validate(kind)
    keys, args = _keys(session_id, user_id, kind, client_id), _args(user_id, kind, client_id)
    client = kv.async_client()
    if client is None:
        applied = _verdict(_memory_accept(keys, args))
    else:
        applied = _verdict(int(await client.eval(_ACCEPT, len(keys), *keys, *args)))
    if applied:
        await ephemeral.reactions_sent(session_id)
    return applied


def reaction_burst_take(session_id: int) -> dict[str, int]:
    """The reactions counted since the last burst, reset to zero."""
    keys = [f"reactions:{session_id}:{kind}" for kind in REACTIONS]
    return {key.rsplit(":", 1)[1]: value for key, value in kv.counters_take(keys).items()}


def reactions_persist(session_id: int) -> int:
    """Write the pending reactions of a session: one `reacted` event each and
    the per-learner counts and last-reacted times. Returns how many."""
    pending_key = _pending_key(session_id)
    items = _pending_take(pending_key)
    if not items:
        return 0
    try:
        _persist(session_id, items)
    except Exception:
        _pending_restore(pending_key, items)
        raise
    return len(items)


def _persist(session_id: int, items: list[dict]) -> None:
    with transaction.atomic():
        session = LiveSession.objects.only("id", "course_id").filter(pk=session_id).first()
        if session is None:
            return
        events_record_many(
            [
                {
                    "event_id": item["e"],
                    "occurred_at": _at(item),
                    "actor_id": item["u"],
                    "verb": "reacted",
                    "object_type": "live_session",
                    "object_id": str(session_id),
                    "course_id": session.course_id,
                    "live_session_id": session_id,
                    "extensions": {"reaction": item["k"]},
                }
                for item in items
            ]
        )
        users = {item["u"] for item in items}
        Participant.objects.bulk_create(
            [Participant(session_id=session_id, user_id=user_id) for user_id in users],
            ignore_conflicts=True,
        )
        participants = {
            p.user_id: p
            for p in Participant.objects.select_for_update()
            .filter(session_id=session_id, user_id__in=users)
            .only("id", "user_id", "reaction_counts", "last_reacted_at")
        }
        added: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for item in items:
            added[item["u"]][item["k"]] += 1
            participant = participants[item["u"]]
            at = _at(item)
            if participant.last_reacted_at is None or participant.last_reacted_at < at:
                participant.last_reacted_at = at
        for user_id, kinds in added.items():
            participant = participants[user_id]
            counts = dict(participant.reaction_counts or {})
            for kind, count in kinds.items():
                counts[kind] = counts.get(kind, 0) + count
            participant.reaction_counts = counts
        Participant.objects.bulk_update(
            list(participants.values()), ["reaction_counts", "last_reacted_at"]
        )


def _at(item: dict) -> datetime:
    return datetime.fromtimestamp(item["t"] / 1000, tz=UTC)


def _pending_take(key: str) -> list[dict]:
    client = kv.sync_client()
    if client is None:
        with _memory_lock:
            pending = _memory_pending.get(key, [])
            raw, _memory_pending[key] = pending[:BATCH], pending[BATCH:]
    else:
        pipe = client.pipeline(transaction=True)
        pipe.lrange(key, 0, BATCH - 1)
        pipe.ltrim(key, BATCH, -1)
        raw, _ = pipe.execute()
    return [json.loads(item) for item in raw]


def _pending_restore(key: str, items: list[dict]) -> None:
    raw = [json.dumps(item) for item in items]
    client = kv.sync_client()
    if client is None:
        with _memory_lock:
            _memory_pending[key] = raw + _memory_pending.get(key, [])
        return
    client.lpush(key, *reversed(raw))


# --- Without Redis (the embedded default: one process) ------------------------------

_memory_lock = threading.Lock()
_memory_pending: dict[str, list[str]] = {}
_memory_seen: dict[str, float] = {}
_memory_windows: dict[str, deque] = {}


def _memory_accept(keys: list[str], args: list) -> int:
    dedup, rate, pending, burst = keys
    now_ms, window_ms, limit, item, has_id, _member = args
    now = time.monotonic()
    with _memory_lock:
        if has_id == "1":
            if _memory_seen.get(dedup, 0.0) > now:
                return 0
            _memory_seen[dedup] = now + DEDUP_SECONDS
        window = _memory_windows.setdefault(rate, deque())
        while window and window[0] <= now_ms - window_ms:
            window.popleft()
        if len(window) >= limit:
            if has_id == "1":
                _memory_seen.pop(dedup, None)
            return -1
        window.append(now_ms)
        _memory_pending.setdefault(pending, []).append(item)
    kv.counter_add(burst.removeprefix("roundtable:count:"))
    return 1


def reset_for_tests() -> None:
    common.session_live_forget_all()
    with _memory_lock:
        _memory_pending.clear()
        _memory_seen.clear()
        _memory_windows.clear()
