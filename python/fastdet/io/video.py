"""Video files through OpenCV's ``VideoCapture`` (FFmpeg): every frame, in order."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Iterator

from ..errors import InputError
from .opencv import cv2
from .source import Item, Source, SourceFrame


class VideoFile(Source):
    """Every frame of a video file, in order, with the container's timestamp (CAP_PROP_POS_MSEC).

    Timestamps are what the container says: an AVI holding H.264 with B-frames reports the decode
    position, which runs ahead by the decoder's delay (PETS 2009's first frame reads 200 ms at
    10 fps); the last frames such a decoder gives out have no position, and continue the spacing
    of the frames before them.

    Opening checks the file exists and that OpenCV decodes its first frame: a missing file or one
    that is not a video is an ``InputError`` here, before any frame is yielded. The stream ends
    where decoding ends (a container may claim more frames than it holds).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.name = str(path)
        if not self.path.is_file():
            raise InputError(f"video: no such file: {self.name!r}")
        cv = cv2()
        self._cap: Any = cv.VideoCapture(str(self.path), cv.CAP_FFMPEG)
        if not self._cap.isOpened():
            self._cap.release()
            raise InputError(f"video: cannot open {self.name!r} (not a video OpenCV's FFmpeg can read)")
        # Decode the first frame now: a file with a video header but no decodable frame is an
        # error of this source, reported before the stream starts.
        ok, first = self._cap.read()
        if not ok or first is None:
            self._cap.release()
            raise InputError(f"video: cannot decode a frame of {self.name!r}")
        self._first: Any = (first, self._cap.get(cv.CAP_PROP_POS_MSEC))
        # The capture is released by the thread that reads it (releasing it under a read() in
        # progress deadlocks FFmpeg): close() only asks, unless nobody has started reading.
        self._state = threading.Lock()
        self._reading = False
        self._stop = False
        count = int(self._cap.get(cv.CAP_PROP_FRAME_COUNT) or 0)
        self.length = count if count > 0 else None
        self.fps = float(self._cap.get(cv.CAP_PROP_FPS) or 0.0)

    def items(self) -> Iterator[Item]:
        cv = cv2()
        cap = self._cap
        with self._state:
            if self._stop or self._reading:
                return
            self._reading = True
        pixels, ms = self._first
        self._first = None
        index = 0
        previous: float | None = None
        step = 1000.0 / self.fps if self.fps > 0 else 0.0
        try:
            while pixels is not None and not self._stop:
                # The frames a decoder with B-frame delay gives out after the last packet have no
                # position of their own (OpenCV reports 0): continue the previous frames' spacing.
                if previous is not None:
                    if ms > previous:
                        step = ms - previous
                    else:
                        ms = previous + step
                yield SourceFrame(pixels, self.name, index, float(ms))
                previous = float(ms)
                index += 1
                ok, pixels = cap.read()
                if not ok:
                    break
                ms = cap.get(cv.CAP_PROP_POS_MSEC)
        finally:
            cap.release()

    def close(self) -> None:
        with self._state:
            self._stop = True
            if not self._reading:
                self._cap.release()
