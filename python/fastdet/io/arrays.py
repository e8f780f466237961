"""Frames the caller already has: numpy arrays, PIL images, and any iterable of frames."""

from __future__ import annotations

from typing import Any, Iterable, Iterator

import numpy as np

from ..errors import Error, InputError, InputTypeError
from ..frames import as_frame
from .source import Item, Source, SourceFailure, SourceFrame


def is_pil_image(obj: Any) -> bool:
    return type(obj).__module__.split(".")[0] == "PIL" and hasattr(obj, "convert") and hasattr(obj, "size")


def pil_pixels(image: Any) -> np.ndarray:
    """uint8[H, W, 3] RGB pixels of a PIL image (any mode)."""
    return np.asarray(image if image.mode == "RGB" else image.convert("RGB"))


class ArrayFrames(Source):
    """numpy uint8 ``[H, W, 3|4]`` (one frame) or ``[B, H, W, 3|4]`` (B frames), BGR unless
    ``rgb``; PIL images (RGB); or an iterable of those. Each element is checked as it is read:
    one of the wrong shape or type is a failure item in its place (the stream raises there, after
    yielding every frame before it)."""

    def __init__(self, frames: Any, *, rgb: bool = False, name: str = "array") -> None:
        self.name = name
        self.rgb = rgb
        if isinstance(frames, np.ndarray):
            if frames.ndim == 4:
                self._frames: Iterable[Any] = list(frames)
            elif frames.ndim in (2, 3):
                self._frames = [frames]
            else:
                raise InputError(f"frames: expected uint8 [H, W, 3] or [B, H, W, 3], got shape {frames.shape}")
        elif is_pil_image(frames):
            self._frames = [frames]
        else:
            try:
                self._frames = iter(frames) if not isinstance(frames, (list, tuple)) else frames
            except TypeError:
                raise InputTypeError(
                    "source: expected a path, camera index, URL, numpy array, PIL image or an iterable of "
                    f"frames, got {type(frames).__name__}") from None
        self.length = len(self._frames) if isinstance(self._frames, (list, tuple)) else None
        self.prompt_close = self.length is not None  # a caller's iterator may block in next()

    def items(self) -> Iterator[Item]:
        for index, element in enumerate(self._frames):
            try:
                if is_pil_image(element):
                    yield SourceFrame(pil_pixels(element), self.name, index, None, rgb=True)
                    continue
                checked = as_frame(element, rgb=self.rgb)
            except Error as e:
                yield SourceFailure(InputError(f"{self.name} frame {index}: {e}") if isinstance(e, ValueError)
                                    else InputTypeError(f"{self.name} frame {index}: {e}"), self.name, index)
                continue
            name = str(element) if not isinstance(element, np.ndarray) else self.name
            yield SourceFrame(checked.pixels, name, index, None, checked.rgb)
