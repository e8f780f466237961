"""``Detector.stream``: a source's frames through a pipeline of threads, results in order.

    reader --frames--> prepare --> infer --> finish --results--> your loop
    (decode video)     (lease +    (model)   (decode + NMS,
                        letterbox)            lease back)

Each stage is one thread, so frame n+1 is read and letterboxed while frame n is in the model and
frame n-1 is being decoded (and while your loop encodes video or writes JSON): ``in_flight``
frames (default 3) hold buffers at once. The native work of every stage releases the GIL.

- Files, folders, arrays, iterables: every frame, in order; the reader waits when ``queue_size``
  frames are waiting (bounded memory).
- Live sources (cameras, network streams): the reader never waits; only the newest unread frame
  and result are kept and the others are counted in ``Stream.dropped`` (no lag builds up). See ``io.live`` for
  reconnection.
- A bad item (an image that cannot be read, an element of the wrong shape) raises at its place in
  the order, after every earlier result was yielded; with ``on_error`` it is reported there and the
  stream goes on. A source that fails as a whole (a stream that closed for good) raises after the
  results already produced.

``close()``, leaving a ``with`` block, or dropping the stream stops the threads and gives the
buffers back; a stream left open but unread holds finished results, not buffers.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterator

import numpy as np

from . import _core
from .channel import CLOSED, Channel
from .errors import Closed, Error
from .frames import Frame
from .io.source import Source, SourceFailure, SourceFrame
from .results import Detections

if TYPE_CHECKING:
    from .detector import Detector, Prepared

#: on_error(error, source, frame): a bad item's exception, where it came from, its index there.
ErrorHandler = Callable[[Exception, str, int], None]


class StreamItem:
    """One frame's result; unpacks as ``index, timestamp_ms, frame, detections``.

    index: the frame's 0-based position in the stream (for live sources, frames read, so dropped
    frames leave gaps). timestamp_ms: the container's timestamp for video files, Unix epoch ms for
    live sources, None for still images and arrays. frame: uint8[H, W, 3|4] as read (BGR unless
    ``rgb``). detections: its Detections.
    source: the file, camera or URL it came from; source_frame: its index there (0 for a still
    image).
    """

    __slots__ = ("index", "timestamp_ms", "frame", "detections", "source", "source_frame", "rgb")

    def __init__(self, index: int, timestamp_ms: float | None, frame: np.ndarray, detections: Detections,
                 source: str = "", source_frame: int = 0, rgb: bool = False) -> None:
        self.index = index
        self.timestamp_ms = timestamp_ms
        self.frame = frame
        self.detections = detections
        self.source = source
        self.source_frame = source_frame
        self.rgb = rgb

    def _fields(self) -> tuple[int, float | None, np.ndarray, Detections]:
        return self.index, self.timestamp_ms, self.frame, self.detections

    def __iter__(self) -> Iterator[Any]:
        return iter(self._fields())

    def __len__(self) -> int:
        return 4

    def __getitem__(self, i: Any) -> Any:
        return self._fields()[i]

    def __repr__(self) -> str:
        return (f"StreamItem(index={self.index}, timestamp_ms={self.timestamp_ms}, frame={self.frame.shape}, "
                f"detections={len(self.detections)} boxes, source={self.source!r})")


@dataclass
class _Envelope:
    """One item on its way through the stages."""

    index: int
    item: SourceFrame | SourceFailure | None
    prepared: Prepared | None = None
    raw: Any = None
    result: Detections | None = None
    error: BaseException | None = None
    fatal: bool = False  # the source itself failed: nothing follows
    token: bool = False  # holds one of the in_flight tokens


class _Pipeline:
    """The threads and channels of one stream (kept apart from ``Stream`` so that a stream the
    caller drops is collected, which closes this)."""

    def __init__(self, detector: Detector, source: Source, options: _core.DecodeOptions,
                 classes: list[int] | None, in_flight: int, queue_size: int) -> None:
        self.detector = detector
        self.source = source
        self.options = options
        self.classes = classes
        self.frames: Channel[_Envelope] = Channel(1 if source.live else queue_size, latest=source.live)
        self.tokens: Channel[bool] = Channel(in_flight)
        for _ in range(in_flight):
            self.tokens.put(True)
        self.prepared: Channel[_Envelope] = Channel(in_flight)
        self.inferred: Channel[_Envelope] = Channel(in_flight)
        # Every item past the reader holds one of the in_flight tokens until the consumer takes
        # it, so the results channel never fills up behind a slow consumer: the finish stage
        # always gets rid of its item and the buffers (leases) go back to the Detector's pool at
        # once. A paused stream holds results and tokens, never buffers another call may need.
        # Live sources keep only the newest result too (no lag builds up behind a slow loop).
        self.results: Channel[Any] = (Channel(1, latest=True, on_drop=self._dropped_result) if source.live
                                      else Channel(in_flight))
        self._closing = threading.Lock()
        self._closed = False
        self.threads = [
            threading.Thread(target=self._read, name="fastdet-stream-read", daemon=True),
            threading.Thread(target=self._stage, args=(self.frames, self.prepared, self._prepare, True),
                             name="fastdet-stream-prepare", daemon=True),
            threading.Thread(target=self._stage, args=(self.prepared, self.inferred, self._infer),
                             name="fastdet-stream-infer", daemon=True),
            threading.Thread(target=self._stage, args=(self.inferred, self.results, self._finish),
                             name="fastdet-stream-finish", daemon=True),
        ]
        for t in self.threads:
            t.start()

    # -- stages (each on its own thread) ------------------------------------------------------------

    def _read(self) -> None:
        index = 0
        items = None
        try:
            items = self.source.items()
            for item in items:
                if not self.frames.put(_Envelope(index, item)):
                    break
                index += 1
        except BaseException as e:  # the source failed as a whole: say so after what it gave
            self.frames.put(_Envelope(index, None, error=e, fatal=True), last=True)
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()  # runs the source's cleanup on this thread, the one that reads it
            self.frames.close()

    def _stage(self, inbox: Channel[_Envelope], outbox: Channel[Any], work: Callable[[_Envelope], Any],
               admit: bool = False) -> None:
        while True:
            env = inbox.get()
            if env is CLOSED:
                break
            if admit:  # the first stage after the reader: every item takes a token here
                if self.tokens.get() is CLOSED:
                    break
                env.token = True
            if env.error is None and isinstance(env.item, SourceFrame):
                try:
                    out = work(env)
                except BaseException as e:  # this item's failure, raised in its place in the order
                    self._release_buffers(env)
                    env.error, out = e, env
            else:
                out = env
            if not outbox.put(out, last=getattr(out, "fatal", False)):  # the stream is closing
                self._give_back(env)
                break
        outbox.close()

    def _prepare(self, env: _Envelope) -> _Envelope:
        item = env.item
        assert isinstance(item, SourceFrame)
        if self.detector.pipelined:
            env.prepared = self.detector._prepare([Frame(item.pixels, item.rgb)])
        else:  # the CUDA pipeline runs the whole call on its stream
            env.result = self.detector._detect_frames([Frame(item.pixels, item.rgb)], self.options, self.classes)[0]
        return env

    def _infer(self, env: _Envelope) -> _Envelope:
        if env.prepared is not None:
            env.raw = env.prepared.lease.run()
        return env

    def _finish(self, env: _Envelope) -> StreamItem:
        if env.prepared is not None:
            env.result = self.detector._finish(env.prepared, env.raw, self.options, self.classes)[0]
        self._release_buffers(env)
        item = env.item
        assert isinstance(item, SourceFrame) and env.result is not None
        return StreamItem(env.index, item.timestamp_ms, item.pixels, env.result, item.source, item.frame, item.rgb)

    def _release_buffers(self, env: _Envelope) -> None:
        if env.prepared is not None:
            env.prepared.lease.release()
            env.prepared, env.raw = None, None

    def _give_back(self, env: Any) -> None:
        """An item that will not reach the consumer: its buffers and its token."""
        if not isinstance(env, _Envelope):
            self.taken()  # a finished result (StreamItem) discarded or dropped
            return
        self._release_buffers(env)
        if env.token:
            env.token = False
            self.tokens.put(True)

    def taken(self) -> None:
        """The consumer took (or the stream dropped) one result: its token lets another frame in."""
        self.tokens.put(True)

    def _dropped_result(self, out: Any) -> None:
        self._give_back(out)

    # -- control -------------------------------------------------------------------------------------

    def close(self) -> None:
        with self._closing:
            if self._closed:
                return
            self._closed = True
        self.source.close()  # a signal only: the reader thread releases the source
        for channel in (self.frames, self.prepared, self.inferred, self.results, self.tokens):
            for env in channel.close(discard=True):
                self._give_back(env)
        current = threading.current_thread()
        for t in self.threads[1:]:
            if t is not current:
                t.join()
        if not self.source.live and self.source.prompt_close and self.threads[0] is not current:
            # A file's reader stops at its next frame; a camera's may be mid-read and a caller's
            # iterable may never yield again: those readers are daemons left to end on their own.
            self.threads[0].join()


class Stream:
    """Iterator of ``StreamItem``s from ``Detector.stream``; also a context manager.

    dropped: live frames skipped because a newer one arrived first. frames: results yielded so far.
    errors: (error, source, frame) of bad items reported to ``on_error``.
    """

    def __init__(self, detector: Detector, source: Source, options: _core.DecodeOptions, classes: list[int] | None,
                 *, in_flight: int = 3, queue_size: int = 8, on_error: ErrorHandler | None = None) -> None:
        for name, value in (("in_flight", in_flight), ("queue_size", queue_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise _input_error(f"{name}: expected a positive int, got {value!r}")
        self.source = source
        self.on_error = on_error
        self.frames = 0
        self.errors: list[tuple[Exception, str, int]] = []
        self._pipeline = _Pipeline(detector, source, options, classes, in_flight, queue_size)
        self._done = False
        self._finalizer = weakref.finalize(self, self._pipeline.close)

    @property
    def dropped(self) -> int:
        return self._pipeline.frames.dropped + self._pipeline.results.dropped

    @property
    def reconnects(self) -> int:
        return int(getattr(self.source, "reconnects", 0))

    @property
    def live(self) -> bool:
        return self.source.live

    def __iter__(self) -> Stream:
        return self

    def __next__(self) -> StreamItem:
        while True:
            if self._done:
                raise StopIteration
            out = self._pipeline.results.get()
            if out is CLOSED:
                self.close()
                raise StopIteration
            self._pipeline.taken()
            if isinstance(out, StreamItem):
                self.frames += 1
                return out
            error, where, frame = _failure(out)
            if out.fatal or self.on_error is None:
                self.close()
                raise error
            self.errors.append((error, where, frame))
            self.on_error(error, where, frame)

    def close(self) -> None:
        """Stops reading and detecting, and gives the buffers back (results not yet taken are lost)."""
        self._done = True
        self._finalizer()

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Stream({self.source!r}, frames={self.frames}, dropped={self.dropped})"


def _failure(env: _Envelope) -> tuple[Exception, str, int]:
    """The exception to raise for a failed item, naming where it happened."""
    item = env.item
    if isinstance(item, SourceFailure):
        return item.error, item.source, item.frame
    error = env.error
    assert error is not None
    if env.fatal or item is None:
        return _as_exception(error), "", env.index
    assert isinstance(item, SourceFrame)
    where = f"{item.source} frame {item.frame}"
    if isinstance(error, Error):
        try:
            wrapped = type(error)(f"{where}: {error}")
            wrapped.__cause__ = error
            return wrapped, item.source, item.frame
        except TypeError:
            pass
    return _as_exception(error), item.source, item.frame


def _as_exception(error: BaseException) -> Exception:
    if isinstance(error, Exception):
        return error
    return Closed(f"stream stopped: {error!r}")


def _input_error(message: str) -> Exception:
    from .errors import InputError

    return InputError(message)
