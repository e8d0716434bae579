"""Group commit: many sockets' writes of one room applied in one transaction.

When a whole class acts at once (a poll answered by 150 learners within a
second), one transaction per action means one commit (a WAL flush) per
action, all queueing for the process's database threads. A `GroupCommit`
queues the items that arrive on this process's sockets for the same key (a
session) and hands them to `apply(key, items)` in batches, in one database
call: the first item of a quiet room goes at once (a batch of one); whatever
arrives while a batch runs waits for it and goes in the next batch (at most
`max_items`). So there is at most one batch per key in flight per process,
and a busy room costs one transaction per batch instead of one per item.

`apply` runs in a database worker thread (core/asyncdb.py, `lane`) and
returns one outcome per item, in order: a value, or an exception for that
item alone (each submitter gets its own). An exception out of `apply` itself
goes to every item of the batch. A submitter that goes away (its socket
closed) does not cancel the batch."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from core.asyncdb import db_call

logger = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


class GroupCommit(Generic[K, T]):
    def __init__(
        self,
        apply: Callable[[K, list[T]], list[Any]],
        *,
        max_items: Callable[[], int] | int = 64,
        lane: str = "default",
    ) -> None:
        self._apply = apply
        self._max_items = max_items
        self._lane = lane
        self._queues: dict[K, deque[tuple[T, asyncio.Future]]] = {}
        self.batch_sizes: deque[int] = deque(maxlen=1000)  # the latest batches (tests, stats)

    def _limit(self) -> int:
        limit = self._max_items() if callable(self._max_items) else self._max_items
        return max(1, int(limit))

    async def submit(self, key: K, item: T) -> Any:
        """Queue `item` and wait for its outcome (an exception is returned,
        not raised: the caller decides how to answer it)."""
        future = asyncio.get_running_loop().create_future()
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = deque()
            queue.append((item, future))
            # No batch of this key in flight: this one drains the queue.
            asyncio.ensure_future(self._drain(key, queue))
        else:
            queue.append((item, future))
        return await asyncio.shield(future)

    async def call(self, key: K, item: T) -> Any:
        """`submit`, raising this item's exception instead of returning it."""
        outcome = await self.submit(key, item)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    async def _drain(self, key: K, queue: deque) -> None:
        try:
            while queue:
                limit = self._limit()
                batch = [queue.popleft() for _ in range(min(limit, len(queue)))]
                self.batch_sizes.append(len(batch))
                items = [item for item, _future in batch]
                try:
                    outcomes = await db_call(self._apply, self._lane)(key, items)
                    if len(outcomes) != len(batch):
                        raise RuntimeError(
                            f"group commit: {len(outcomes)} outcomes for {len(batch)} items"
                        )
                except Exception as error:  # the whole batch failed (database down, a bug)
                    outcomes = [error] * len(batch)
                for (_item, future), outcome in zip(batch, outcomes, strict=True):
                    if not future.done():
                        future.set_result(outcome)
        finally:
            # Only on the loop, with no await since the last check: an item
            # queued meanwhile would have been taken above.
            if self._queues.get(key) is queue:
                del self._queues[key]
            for _item, future in queue:  # only after a cancellation of this task
                if not future.done():
                    future.set_result(RuntimeError("group commit stopped"))
