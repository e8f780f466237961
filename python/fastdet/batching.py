"""Dynamic micro-batching: single-frame requests from many threads (or asyncio tasks) grouped
into batched inference calls.

    bd = fastdet.BatchingDetector("yolo11n.onnx", max_batch=8, max_delay_ms=5, max_queue=256)
    future = bd.submit(frame)            # concurrent.futures.Future[Detections], from any thread
    dets = future.result()
    dets = await bd.detect_async(frame)  # the same from asyncio
    bd.close()                           # runs what is queued, then refuses new work

A worker takes the waiting requests as one batch as soon as ``max_batch`` are waiting, or when the
oldest has waited ``max_delay_ms``, and runs them as one ``Detector.detect`` call (a dynamic-batch
model runs exactly that batch; a fixed-batch model runs in chunks of its batch, the last padded;
OpenVINO splits a batch over its infer requests). ``workers`` (default 2) batches are in flight at
once, so one batch is letterboxed and decoded while another is in the model.

Back-pressure: at most ``max_queue`` requests wait. ``submit`` then blocks until there is room,
for at most ``queue_timeout`` seconds (None: as long as it takes), and raises ``QueueFull`` after;
``block=False`` raises ``QueueFull`` at once. Per-request ``timeout``: a request still waiting
when it passes fails with ``RequestTimeout`` and does not run (one already running completes).

Errors belong to their request: a bad frame raises in its own ``submit`` (``InputError`` /
``InputTypeError``); a batch that fails in the model is retried frame by frame, so each request
gets its own result or its own exception; a cancelled future is skipped.
"""

from __future__ import annotations

import asyncio
import functools
import os
import threading
import time
import weakref
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from .detector import Detector
from .errors import Closed, InputError, InputTypeError, QueueFull, RequestTimeout
from .frames import Frame, FrameLike, as_frame
from .results import Detections


@dataclass
class _Request:
    frame: Frame
    future: Future[Detections]
    submitted: float
    deadline: float | None


@dataclass
class BatchStats:
    """What a BatchingDetector has done: requests run, batches run, their sizes, timeouts."""

    requests: int = 0
    batches: int = 0
    largest: int = 0
    timed_out: int = 0
    sizes: dict[int, int] = field(default_factory=dict)

    @property
    def mean_batch(self) -> float:
        return self.requests / self.batches if self.batches else 0.0


def _positive(name: str, value: Any, kind: type = int, allow_zero: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float) if kind is float else int):
        raise InputTypeError(f"{name}: expected a {'number' if kind is float else 'whole number'}, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        raise InputError(f"{name}: expected a {'non-negative' if allow_zero else 'positive'} value, got {value!r}")


class BatchingDetector:
    """Groups ``submit``-ted frames into batched calls of one shared ``Detector``.

    model: a Detector to share, or a model path (None: the default model), then built with
    ``detector_options`` (backend, conf, classes, threads, ...). Every request uses that Detector's
    thresholds and class filter.
    max_batch: frames per inference call at most. max_delay_ms: how long the oldest waiting
    request may wait for others to join it. max_queue: requests waiting at most (back-pressure).
    workers: batches in flight at once.
    """

    def __init__(self, model: Detector | str | os.PathLike[str] | None = None, *, max_batch: int = 8,
                 max_delay_ms: float = 5.0, max_queue: int = 256, workers: int = 2,
                 **detector_options: Any) -> None:
        _positive("max_batch", max_batch)
        _positive("max_delay_ms", max_delay_ms, float, allow_zero=True)
        _positive("max_queue", max_queue)
        _positive("workers", workers)
        if isinstance(model, Detector):
            if detector_options:
                raise InputError(f"{sorted(detector_options)[0]}: give Detector options to the Detector you pass, "
                                 "or pass a model path")
            detector = model
        else:
            detector = Detector(model, **detector_options)
        self._batcher = _Batcher(detector, max_batch, max_delay_ms / 1000.0, max_queue, workers)
        self._finalizer = weakref.finalize(self, self._batcher.close, False)

    @property
    def detector(self) -> Detector:
        """The shared Detector every batch runs on."""
        return self._batcher.detector

    @property
    def max_batch(self) -> int:
        return self._batcher.max_batch

    @property
    def max_delay_s(self) -> float:
        return self._batcher.max_delay_s

    @property
    def max_queue(self) -> int:
        return self._batcher.max_queue

    @property
    def stats(self) -> BatchStats:
        """Requests, batches and batch sizes so far."""
        return self._batcher.stats

    def submit(self, frame: FrameLike, *, rgb: bool = False, timeout: float | None = None, block: bool = True,
               queue_timeout: float | None = None) -> Future[Detections]:
        """Queues one frame; returns a Future of its Detections.

        frame: uint8[H, W, 3|4] (BGR unless ``rgb``) or an image path; checked here, so a bad frame
        raises InputError / InputTypeError in this call and nowhere else. The array is read when
        the batch runs: do not write to it until the future is done.
        timeout: seconds the request may wait to start (then ``RequestTimeout``); None: no limit.
        block / queue_timeout: when ``max_queue`` requests are waiting, wait for room (at most
        ``queue_timeout`` seconds; None: no limit) or, with ``block=False``, raise ``QueueFull`` now.
        Raises ``Closed`` after ``close()``.
        """
        return self._batcher.submit(frame, rgb=rgb, timeout=timeout, block=block, queue_timeout=queue_timeout)

    def detect(self, frame: FrameLike, *, rgb: bool = False, timeout: float | None = None) -> Detections:
        """``submit(frame).result()``: blocks until this frame's Detections are ready."""
        return self.submit(frame, rgb=rgb, timeout=timeout).result()

    async def detect_async(self, frame: FrameLike, *, rgb: bool = False, timeout: float | None = None,
                           queue_timeout: float | None = None) -> Detections:
        """The asyncio form of ``submit(frame).result()``: awaits the result without blocking the
        event loop (a full queue is waited for on a helper thread, not in the loop)."""
        try:
            future = self.submit(frame, rgb=rgb, timeout=timeout, block=False)
        except QueueFull:
            loop = asyncio.get_running_loop()
            call = functools.partial(self.submit, frame, rgb=rgb, timeout=timeout, queue_timeout=queue_timeout)
            future = await loop.run_in_executor(None, call)
        return await asyncio.wrap_future(future)

    @property
    def waiting(self) -> int:
        """Requests queued and not yet taken into a batch."""
        return self._batcher.waiting

    def close(self, wait: bool = True) -> None:
        """Refuses new requests, runs every request already queued (no more waiting for a batch
        to fill), and with ``wait`` returns when they are done."""
        self._batcher.close(wait)

    def __enter__(self) -> BatchingDetector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"BatchingDetector({self.detector!r}, max_batch={self.max_batch}, "
                f"max_delay_ms={self.max_delay_s * 1000:g}, max_queue={self.max_queue})")


class _Batcher:
    """The queue and workers behind a BatchingDetector. The workers hold this, not the
    BatchingDetector, so one dropped without close() is collected and its finalizer closes this
    (the queued requests still run, then the workers end)."""

    def __init__(self, detector: Detector, max_batch: int, max_delay_s: float, max_queue: int, workers: int) -> None:
        self.detector = detector
        self.max_batch = max_batch
        self.max_delay_s = max_delay_s
        self.max_queue = max_queue
        self.stats = BatchStats()
        self._queue: deque[_Request] = deque()
        self._cond = threading.Condition(threading.Lock())
        self._closed = False
        self._workers = [threading.Thread(target=self._work, name=f"fastdet-batching-{i}", daemon=True)
                         for i in range(workers)]
        for t in self._workers:
            t.start()

    def submit(self, frame: FrameLike, *, rgb: bool, timeout: float | None, block: bool,
               queue_timeout: float | None) -> Future[Detections]:
        checked = as_frame(frame, rgb=rgb)
        if timeout is not None:
            _positive("timeout", timeout, float, allow_zero=True)
        if queue_timeout is not None:
            _positive("queue_timeout", queue_timeout, float, allow_zero=True)
        future: Future[Detections] = Future()
        now = time.monotonic()
        request = _Request(checked, future, now, None if timeout is None else now + timeout)
        with self._cond:
            if len(self._queue) >= self.max_queue and not self._closed:
                if not block:
                    raise QueueFull(f"{self.max_queue} requests are waiting (max_queue): try again later")
                limit = None if queue_timeout is None else now + queue_timeout
                while len(self._queue) >= self.max_queue and not self._closed:
                    left = None if limit is None else limit - time.monotonic()
                    if left is not None and left <= 0:
                        raise QueueFull(f"{self.max_queue} requests stayed waiting (max_queue) for "
                                        f"{queue_timeout:g} s: try again later")
                    self._cond.wait(left)
            if self._closed:
                raise Closed("BatchingDetector: submit() after close()")
            self._queue.append(request)
            self._cond.notify_all()
        return future

    @property
    def waiting(self) -> int:
        return len(self._queue)

    def close(self, wait: bool = True) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if wait:
            current = threading.current_thread()
            for t in self._workers:
                if t is not current:
                    t.join()

    # -- workers -----------------------------------------------------------------------------------

    def _next_batch(self) -> list[_Request] | None:
        """Waits for a batch (None: closed and nothing left); fails requests whose timeout passed."""
        while True:
            expired: list[_Request] = []
            with self._cond:
                now = time.monotonic()
                if any(r.deadline is not None and r.deadline <= now for r in self._queue):
                    keep: deque[_Request] = deque()
                    for r in self._queue:
                        (expired if r.deadline is not None and r.deadline <= now else keep).append(r)
                    self._queue = keep
                    self._cond.notify_all()  # room for blocked submitters
                elif not self._queue:
                    if self._closed:
                        return None
                    self._cond.wait()
                    continue
                else:
                    ready_at = self._queue[0].submitted + self.max_delay_s
                    if len(self._queue) >= self.max_batch or self._closed or now >= ready_at:
                        batch = [self._queue.popleft() for _ in range(min(self.max_batch, len(self._queue)))]
                        self._cond.notify_all()
                        return batch
                    deadlines = [r.deadline for r in self._queue if r.deadline is not None]
                    self._cond.wait(max(min([ready_at, *deadlines]) - now, 0.0))
                    continue
            for r in expired:  # outside the lock: a future's callbacks may call back into us
                if r.future.set_running_or_notify_cancel():
                    with self._cond:
                        self.stats.timed_out += 1
                    r.future.set_exception(RequestTimeout(
                        f"request waited {time.monotonic() - r.submitted:.3f} s, past its timeout, and did not run"))

    def _work(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            live = [r for r in batch if r.future.set_running_or_notify_cancel()]
            if live:
                self._run(live)

    def _run(self, batch: list[_Request]) -> None:
        try:
            results = self.detector.detect([r.frame for r in batch])
        except BaseException as e:
            if len(batch) == 1:
                batch[0].future.set_exception(e)
                return
            for r in batch:  # find whose frame it was: each request gets its own outcome
                try:
                    r.future.set_result(self.detector.detect(r.frame))
                except BaseException as single:
                    r.future.set_exception(single)
            return
        with self._cond:
            s = self.stats
            s.requests += len(batch)
            s.batches += 1
            s.largest = max(s.largest, len(batch))
            s.sizes[len(batch)] = s.sizes.get(len(batch), 0) + 1
        for r, dets in zip(batch, results):
            r.future.set_result(dets)
