"""Live sources: cameras (``0``) and network streams (RTSP, HTTP, ...) through OpenCV.

A live source never waits for the detector: the stream keeps only its newest frame (see
``fastdet.stream``). When the connection drops it reconnects with exponential back-off
(0.25 s doubling to 4 s) for up to ``reconnect_s`` seconds, then raises ``SourceError`` ("closed and
did not come back"); a source that never opens raises ``SourceError`` after ``open_timeout_s``.
"""

from __future__ import annotations

import numbers
import threading
import time
from typing import Any, Iterator

from ..errors import InputError, SourceError
from .opencv import cv2
from .source import Item, Source, SourceFrame

URL_SCHEMES = ("rtsp", "rtsps", "rtmp", "rtmps", "http", "https", "udp", "tcp", "srt", "rtp")
FIRST_BACKOFF_S = 0.25
MAX_BACKOFF_S = 4.0


def is_url(text: str) -> bool:
    scheme, sep, _ = text.partition("://")
    return bool(sep) and scheme.lower() in URL_SCHEMES


def redact(url: str) -> str:
    """The URL without a password (rtsp://user:secret@host -> rtsp://user:***@host)."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest.split("/", 1)[0]:
        return url
    auth, host = rest.split("@", 1)
    user = auth.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in auth else url


class LiveCapture(Source):
    """A camera index or a stream URL, read as fast as it delivers, stamped with Unix epoch ms.

    open_timeout_s: how long to keep trying to open it the first time (attempts with back-off).
    reconnect_s: how long to keep trying to reopen it after it drops (0: do not reconnect; the
    drop then ends the stream with a ``SourceError``).
    """

    live = True

    def __init__(self, target: int | str, *, open_timeout_s: float = 10.0, reconnect_s: float = 30.0) -> None:
        for name, value in (("open_timeout_s", open_timeout_s), ("reconnect_s", reconnect_s)):
            # NaN would never run out (every deadline comparison is False): the source would retry forever.
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < float("inf"):
                raise InputError(f"{name}: expected a finite number of seconds, 0 or more, got {value!r}")
        self.target = target
        self.name = f"camera {target}" if isinstance(target, int) else redact(target)
        self.open_timeout_s = float(open_timeout_s)
        self.reconnect_s = float(reconnect_s)
        #: Times the source was reopened after a drop.
        self.reconnects = 0
        self._closed = threading.Event()

    def _open_once(self) -> Any:
        cv = cv2()
        if isinstance(self.target, int):
            cap = cv.VideoCapture(self.target)
        else:
            # Bounded waits: FFmpeg's own defaults can block for minutes on a dead host.
            ms = int(max(self.open_timeout_s, 1.0) * 1000)
            cap = cv.VideoCapture(self.target, cv.CAP_FFMPEG,
                                  [cv.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv.CAP_PROP_READ_TIMEOUT_MSEC, ms])
        if cap.isOpened():
            return cap
        cap.release()
        return None

    def _open(self, within_s: float, what: str) -> Any:
        """Opens the capture, retrying with back-off for ``within_s`` seconds; SourceError if it never does."""
        deadline = time.monotonic() + within_s
        delay, attempts = FIRST_BACKOFF_S, 0
        while True:
            attempts += 1
            cap = self._open_once()
            if cap is not None:
                return cap
            left = deadline - time.monotonic()
            if left <= 0 or self._closed.is_set():
                raise SourceError(f"{self.name}: {what} ({attempts} attempt{'s' * (attempts > 1)} "
                                  f"over {within_s:g} s)")
            if self._closed.wait(min(delay, left)):
                raise SourceError(f"{self.name}: closed")
            delay = min(delay * 2, MAX_BACKOFF_S)

    def items(self) -> Iterator[Item]:
        cap = self._open(self.open_timeout_s, "cannot open it")
        index = 0
        try:
            while not self._closed.is_set():
                ok, pixels = cap.read()
                if ok and pixels is not None:
                    yield SourceFrame(pixels, self.name, index, time.time() * 1000.0)
                    index += 1
                    continue
                cap.release()
                cap = None
                if self._closed.is_set():
                    return
                if self.reconnect_s <= 0:
                    raise SourceError(f"{self.name}: the stream closed after {index} frames")
                cap = self._open(self.reconnect_s,
                                 f"the stream closed after {index} frames and did not come back")
                self.reconnects += 1
        finally:
            if cap is not None:
                cap.release()

    def close(self) -> None:
        self._closed.set()
