"""A bounded, closable queue between two threads of a stream pipeline.

``put`` blocks while the channel is full (back-pressure) unless it keeps only the latest items,
in which case the oldest waiting item is dropped and counted (a live camera must never build up
lag). ``close`` wakes every waiting thread: ``put`` then returns False and ``get`` returns
``CLOSED`` once the remaining items are taken (or at once, when closed with ``discard=True``).
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any, Callable, Generic, TypeVar

T = TypeVar("T")

#: What ``get`` returns from a closed, empty channel.
CLOSED: Any = object()


class Channel(Generic[T]):
    def __init__(self, capacity: int, *, latest: bool = False, on_drop: Callable[[T], None] | None = None) -> None:
        if capacity < 1:
            raise ValueError(f"capacity: expected at least 1, got {capacity}")
        self.capacity = capacity
        self.latest = latest
        #: Items dropped because a newer one came while the channel was full (latest only).
        self.dropped = 0
        self._on_drop = on_drop
        self._items: deque[T] = deque()
        self._closed = False
        self._cond = threading.Condition(threading.Lock())

    def put(self, item: T, *, last: bool = False) -> bool:
        """Adds ``item``; False (item not added) when the channel is closed. ``last``: the final
        item (an end-of-source error), added without dropping what is still waiting."""
        dropped: list[T] = []
        with self._cond:
            while not self._closed and len(self._items) >= self.capacity and not self.latest and not last:
                self._cond.wait()
            if self._closed:
                return False
            while len(self._items) >= self.capacity and not last:
                dropped.append(self._items.popleft())
                self.dropped += 1
            self._items.append(item)
            self._cond.notify_all()
        if self._on_drop is not None:
            for d in dropped:
                self._on_drop(d)
        return True

    def get(self) -> T:
        """The oldest item; waits for one; ``CLOSED`` when closed and empty."""
        with self._cond:
            while not self._items and not self._closed:
                self._cond.wait()
            if not self._items:
                return CLOSED
            item = self._items.popleft()
            self._cond.notify_all()
            return item

    def close(self, *, discard: bool = False) -> list[T]:
        """Closes the channel; with ``discard`` also takes out and returns the items still in it."""
        with self._cond:
            self._closed = True
            left = list(self._items) if discard else []
            if discard:
                self._items.clear()
            self._cond.notify_all()
        return left

    @property
    def closed(self) -> bool:
        return self._closed
