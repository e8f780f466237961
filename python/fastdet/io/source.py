"""What every frame source yields: frames with where and when they came from, or the failure of
one item (an image that cannot be read, an element of the wrong shape) in its place."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Iterator, TypeVar, Union

import numpy as np


@dataclass(frozen=True)
class SourceFrame:
    """One frame of a source.

    pixels: uint8[H, W, 3|4], BGR(A) unless ``rgb`` (PIL images are RGB).
    source: the file, camera ("camera 0"), URL or "array" it came from.
    frame: its 0-based index within that source (0 for a still image).
    timestamp_ms: the container's timestamp (CAP_PROP_POS_MSEC) for video files, Unix epoch ms
    when it was read for live sources, None for still images and arrays.
    """

    pixels: np.ndarray
    source: str
    frame: int
    timestamp_ms: float | None
    rgb: bool = False


@dataclass(frozen=True)
class SourceFailure:
    """An item that could not be read or is not a frame; the stream raises ``error`` in its place
    (or reports it and goes on, if asked to)."""

    error: Exception
    source: str
    frame: int


Item = Union[SourceFrame, SourceFailure]
_S = TypeVar("_S", bound="Source")


class Source(ABC):
    """Frames from somewhere, read on the stream's reader thread.

    live: True for cameras and network streams (the stream keeps only the newest frame and counts
    the ones it drops), False for files and arrays (every frame, in order).
    prompt_close: whether the reader stops soon after ``close()`` (see below).
    length: how many frames the source says it has (None when unknown or endless; a container's
    count can be wrong).
    """

    name: str
    live: bool = False
    length: int | None = None
    #: False when reading the next item may block for as long as it likes (a caller's iterator,
    #: a list of network streams): closing the stream then does not wait for the reader.
    prompt_close: bool = True

    @abstractmethod
    def items(self) -> Iterator[Item]:
        """Frames (or failures) in order; ends when the source does. Raises for a source that cannot
        be read at all (missing, not a video, a stream that never opens or closed for good)."""

    def close(self) -> None:
        """Asks the source to stop; safe from any thread and never blocks. The thread iterating
        ``items()`` releases what it holds (an OpenCV capture must not be released under a read)."""

    def __enter__(self: _S) -> _S:
        return self

    def __exit__(self, *exc: object) -> None:
        """A source opened in a ``with`` block lets its device or file go at the end of the block,
        whether or not a stream was ever made from it."""
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"
