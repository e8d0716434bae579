"""Snapshot parts shared by a room's members, built once per sequence number.

When a class joins at once, every member's snapshot holds the same session,
mode, podium, hands, timers, polls and class chat: reading them 150 times
from the database is most of a join storm's cost. A room's snapshot selector
asks `SharedParts.get(room_id, seq, build)` for what every member of that
kind sees identically at `seq`; the first caller builds it and the callers
arriving meanwhile wait for that one build (one build per room and seq per
process, not one per member). Per-member parts (my answers, my upvotes, who
is online) stay per member.

Why keying by `seq` is enough: every change to a shared part emits a
sequenced frame, so a part built after reading `seq` = S holds every commit
up to S, and anything committed later reaches the member as frames after S
(which clients apply idempotently), exactly as with a snapshot built from
scratch. `max_age` bounds what a write that bypasses the services (an admin
edit, a data migration) could leave stale; a process keeps the latest entry
of at most `rooms_max` rooms."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any


class _Entry:
    __slots__ = ("built_at", "children", "lock", "seq", "value")

    def __init__(self, seq: int) -> None:
        self.seq = seq
        self.value: Any = None
        self.built_at = 0.0
        self.lock = threading.Lock()
        self.children: dict[Any, Any] = {}


class SharedParts:
    """A per-process cache of one kind of room's shared snapshot parts."""

    def __init__(self, name: str, *, max_age: float = 5.0, rooms_max: int = 512) -> None:
        self.name = name
        self.max_age = max_age
        self.rooms_max = rooms_max
        self.enabled = True
        self.builds = 0  # how many times a part was built (tests, benchmarks)
        self._entries: OrderedDict[int, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def _entry(self, room_id: int, seq: int) -> _Entry:
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(room_id)
            stale = entry is None or entry.seq != seq
            if not stale and entry.value is not None and now - entry.built_at > self.max_age:
                stale = True
            if stale:
                if entry is not None and entry.seq > seq:
                    # A caller that read an older seq than the cached one (it
                    # read the row just before a change): build its own.
                    return _Entry(seq)
                entry = _Entry(seq)
                self._entries[room_id] = entry
                while len(self._entries) > self.rooms_max:
                    self._entries.popitem(last=False)
            self._entries.move_to_end(room_id)
            return entry

    def get(self, room_id: int, seq: int, build: Callable[[], Any]) -> Any:
        """The room's shared part at `seq`, built by `build()` once."""
        if not self.enabled:
            self.builds += 1
            return build()
        entry = self._entry(room_id, seq)
        if entry.value is not None:
            return entry.value
        with entry.lock:
            if entry.value is None:
                self.builds += 1
                entry.value = build()
                entry.built_at = time.monotonic()
            return entry.value

    def child(self, room_id: int, seq: int, key: Any, build: Callable[[], Any]) -> Any:
        """A part shared by some members only (one table's members), at `seq`."""
        if not self.enabled:
            self.builds += 1
            return build()
        entry = self._entry(room_id, seq)
        found = entry.children.get(key)
        if found is not None:
            return found
        with entry.lock:
            found = entry.children.get(key)
            if found is None:
                self.builds += 1
                found = entry.children[key] = build()
            return found

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
