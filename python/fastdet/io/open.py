"""``open_source``: what a user may pass as a source, turned into a ``Source``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from ..errors import Error, InputTypeError
from .arrays import ArrayFrames, is_pil_image
from .images import ImageFiles, expand, is_image, is_video
from .live import LiveCapture, is_url
from .source import Item, Source, SourceFailure, SourceFrame
from .video import VideoFile


def open_source(source: Any, *, live: bool | None = None, rgb: bool = False, open_timeout_s: float = 10.0,
                reconnect_s: float = 30.0) -> Source:
    """A Source for ``source``:

    - an int, or a string of digits that is not a file: a camera index (live);
    - a URL (rtsp://, http://, ...): a network stream (live unless ``live=False``, e.g. a video
      file served over HTTP);
    - a video file (by suffix: .mp4, .avi, .mkv, ...): every frame, in order;
    - an image file, a folder (its images and videos, recursively, sorted) or a glob pattern;
    - a numpy uint8 array [H, W, 3] or [B, H, W, 3] (BGR unless ``rgb``), a PIL image (RGB), or a
      list / iterable of frames or paths.

    live: None decides by kind; True reads any source with the latest-frame policy, False reads
    every frame in order. Raises InputError for a file that is missing or not an image or video,
    SourceError for a live source that never opens (when the stream starts reading it).
    """
    if isinstance(source, Source):
        return _as_live(source, live)
    if isinstance(source, bool):
        raise InputTypeError(f"source: expected a path, camera index, URL or frames, got {source!r}")
    if isinstance(source, (int, np.integer)):
        return _as_live(LiveCapture(int(source), open_timeout_s=open_timeout_s, reconnect_s=reconnect_s), live)
    if isinstance(source, (str, os.PathLike)):
        text = os.fspath(source)
        if isinstance(text, bytes):
            raise InputTypeError("source: expected a str path, got bytes")
        if is_url(text):
            return _as_live(LiveCapture(text, open_timeout_s=open_timeout_s, reconnect_s=reconnect_s), live)
        if text.isdigit() and not Path(text).exists():
            return _as_live(LiveCapture(int(text), open_timeout_s=open_timeout_s, reconnect_s=reconnect_s), live)
        files = expand(text)
        if len(files) == 1 and not Path(text).is_dir():
            return _as_live(open_file(files[0]), live)
        return _as_live(Chain(files, name=text), live)
    if isinstance(source, np.ndarray) or is_pil_image(source):
        return _as_live(ArrayFrames(source, rgb=rgb), live)
    if isinstance(source, (list, tuple)) and source and all(isinstance(s, (str, os.PathLike)) for s in source):
        return _as_live(Chain(list(source), name=f"{len(source)} sources", open_timeout_s=open_timeout_s,
                              reconnect_s=reconnect_s), live)
    return _as_live(ArrayFrames(source, rgb=rgb), live)


def open_file(path: Path) -> Source:
    """An image or a video file, by suffix; an unknown suffix is tried as a video (OpenCV reads
    many containers)."""
    if is_image(path):
        return ImageFiles([path])
    return VideoFile(path)


class Chain(Source):
    """Several files or sources one after the other (a folder, a glob, a list of paths or URLs).
    One that cannot be opened or read is a failure item in its place; the others are still read."""

    def __init__(self, parts: list[Any], name: str, *, open_timeout_s: float = 10.0, reconnect_s: float = 30.0) -> None:
        self.parts = parts
        self.name = name
        self.length = len(parts) if all(isinstance(p, Path) and is_image(p) for p in parts) else None
        # A URL among the parts may take its whole open timeout to answer, or fail, per read.
        self.prompt_close = not any(isinstance(p, str) and is_url(p) for p in parts)
        self._open_timeout_s = open_timeout_s
        self._reconnect_s = reconnect_s
        self._current: Source | None = None
        self._closed = False

    def items(self) -> Iterator[Item]:
        for part in self.parts:
            if self._closed:
                return
            try:
                if isinstance(part, Path) and not is_video(part) and not is_image(part):
                    sub = open_file(part)
                else:
                    sub = open_source(part, live=False, open_timeout_s=self._open_timeout_s,
                                      reconnect_s=self._reconnect_s)
            except Error as e:
                yield SourceFailure(e, str(part), 0)
                continue
            self._current = sub
            try:
                yield from sub.items()
            except Error as e:  # this part failed part-way (or never opened): the next one is read
                yield SourceFailure(e, str(part), 0)
            finally:
                self._current = None
                sub.close()

    def close(self) -> None:
        self._closed = True
        current = self._current
        if current is not None:
            current.close()


def _as_live(source: Source, live: bool | None) -> Source:
    if live is not None:
        source.live = bool(live)
    return source


__all__ = ["Item", "Source", "SourceFailure", "SourceFrame", "open_source"]
