"""Per-call inference buffers from a small pool, so one backend serves many threads at once.

A ``Lease`` is what one inference call holds: ``input`` (float32[batch, 3, H, W], written in
place by the letterbox) and ``run()``, which returns the raw head output. Concurrent backends
(ONNX Runtime, OpenVINO) keep a pool of slots, each with its own buffers (and its own I/O
binding or infer requests) over the one shared session or compiled model; a call takes a free
slot and gives it back when its output has been decoded. The pool's lock guards only the list of
free slots, never a run: independent callers run inference at the same time.

A slot grows to the largest batch it has served and is reused at that size (views of its
buffers serve smaller batches), so a warm pool allocates nothing per call. The pool holds at most
``limit`` slots; a caller beyond that waits for one to come back (more simultaneous inferences
than cores would only share the same cores). Waiting callers are served first come, first served:
a returned slot is handed straight to the longest waiter, so a thread that gives a slot back and
asks again at once cannot overtake it (without that, a waiter's latency grows without bound under
load).
"""

from __future__ import annotations

import os
import threading
from collections import deque
from typing import Any, Callable, Generic, Protocol, TypeVar

import numpy as np


class Slot(Protocol):
    def input_for(self, batch: int) -> np.ndarray:
        """float32[batch, 3, H, W], C-contiguous: this slot's input rows for a call of ``batch``."""

    def run(self, batch: int) -> np.ndarray:
        """Runs the model on the first ``batch`` rows; float32 raw output, batch first (a fixed-batch
        model's output has its whole batch)."""


S = TypeVar("S", bound=Slot)


def default_limit() -> int:
    """Slots per pool: one per usable core, at least 3 (a pipelined stream keeps 3 calls in
    flight) and at most 16."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return min(16, max(3, cores))


class Lease:
    """One call's buffers: write ``input``, call ``run()``, read its output, then ``release()``
    (or use it as a context manager). It may be released from another thread than the one that
    took it (the stream pipeline hands a lease from stage to stage)."""

    __slots__ = ("input", "_slot", "_batch", "_release")

    def __init__(self, slot: Slot, batch: int, release: Callable[[Slot], None]) -> None:
        self._slot: Slot | None = slot
        self._batch = batch
        self._release = release
        self.input = slot.input_for(batch)

    def run(self) -> np.ndarray:
        if self._slot is None:
            raise RuntimeError("lease: run() after release()")
        return self._slot.run(self._batch)

    def release(self) -> None:
        slot, self._slot = self._slot, None
        if slot is not None:
            self._release(slot)

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class _Waiter:
    """A caller waiting for a slot: ``ready`` is released when ``slot`` has been handed over."""

    __slots__ = ("ready", "slot")

    def __init__(self) -> None:
        self.ready = threading.Lock()
        self.ready.acquire()
        self.slot: Any = None


class SlotPool(Generic[S]):
    """Up to ``limit`` slots made by ``make()`` on demand, handed out one caller at a time, in
    the order callers asked when they have to wait."""

    def __init__(self, make: Callable[[], S], limit: int | None = None) -> None:
        self._make = make
        self.limit = limit or default_limit()
        self._free: list[S] = []
        self._waiters: deque[_Waiter] = deque()
        self._made = 0
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        """Slots made so far."""
        return self._made

    def lease(self, batch: int) -> Lease:
        """A free slot (made if the pool is below its limit, else waited for) prepared for ``batch``."""
        slot = self._acquire()
        try:
            return Lease(slot, batch, self._give_back)
        except BaseException:
            self._give_back(slot)
            raise

    def _acquire(self) -> S:
        while True:
            with self._lock:
                if self._free and not self._waiters:
                    return self._free.pop()
                if self._made < self.limit:
                    self._made += 1
                    waiter = None
                else:
                    waiter = _Waiter()
                    self._waiters.append(waiter)
            if waiter is None:
                return self._make_one()
            try:
                waiter.ready.acquire()
            except BaseException:  # interrupted (Ctrl-C) while waiting: leave the queue, or pass
                self._abandon(waiter)  # on the slot handed over meanwhile, so none is lost
                raise
            if waiter.slot is not None:
                return waiter.slot  # type: ignore[no-any-return]
            # Woken without a slot: a slot being made failed, so there is room to make one again.

    def _make_one(self) -> S:
        try:
            return self._make()
        except BaseException:
            with self._lock:
                self._made -= 1
                # Whoever waits would otherwise wait for a slot that will never exist: wake the
                # longest waiter to try making it itself.
                if self._waiters:
                    self._waiters.popleft().ready.release()
            raise

    def _abandon(self, waiter: _Waiter) -> None:
        with self._lock:
            try:
                self._waiters.remove(waiter)
                return
            except ValueError:
                pass  # already woken: it was handed a slot (or a chance to make one)
        if waiter.slot is not None:
            self._give_back(waiter.slot)
        else:
            with self._lock:
                if self._waiters and self._made < self.limit:
                    self._waiters.popleft().ready.release()

    def _give_back(self, slot: S) -> None:
        with self._lock:
            if self._waiters:
                waiter = self._waiters.popleft()
                waiter.slot = slot
                waiter.ready.release()
                return
            self._free.append(slot)
