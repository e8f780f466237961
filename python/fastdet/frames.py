"""Frames: numpy images or image files, checked before they reach the native core."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import numpy as np

FrameLike = Union[np.ndarray, str, os.PathLike]


@dataclass(frozen=True)
class Frame:
    """A frame ready for letterboxing: uint8[H, W, 3|4], BGR(A) unless ``rgb``."""

    pixels: np.ndarray
    rgb: bool = False

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.pixels.shape[0]), int(self.pixels.shape[1])


def read_image(path: str | os.PathLike) -> Frame:
    """Reads an image file with OpenCV (BGR) when installed, else Pillow (RGB)."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"image: no such file: {str(p)!r}")
    try:
        import cv2
    except ImportError:
        cv2 = None
    if cv2 is not None:
        data = np.fromfile(str(p), dtype=np.uint8)  # works with non-ASCII paths too
        img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
        if img is None:
            raise ValueError(f"image: cannot decode {str(p)!r} (not an image OpenCV can read)")
        return Frame(img, rgb=False)
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise ImportError("reading image files needs OpenCV or Pillow: pip install 'fastdet[cpu]'") from None
    try:
        with Image.open(p) as im:
            return Frame(np.asarray(im.convert("RGB")), rgb=True)
    except (UnidentifiedImageError, OSError) as e:
        raise ValueError(f"image: cannot decode {str(p)!r}: {e}") from None


def as_frame(frame: FrameLike, rgb: bool = False) -> Frame:
    """Validates a frame: a path, or a numpy uint8 array [H, W, 3] (BGR, or RGB when ``rgb``)
    or [H, W, 4] (alpha ignored). Any row pitch is accepted (crops); pixels within a row must
    be packed, else ``ValueError``."""
    if isinstance(frame, Frame):
        return frame
    if isinstance(frame, (str, os.PathLike)):
        return read_image(frame)
    if not isinstance(frame, np.ndarray):
        raise TypeError(f"frame: expected a numpy uint8 array [H, W, 3] or an image path, got {type(frame).__name__}")
    if frame.dtype != np.uint8:
        raise TypeError(f"frame: expected dtype uint8, got {frame.dtype}")
    if frame.ndim == 2:
        raise ValueError(
            f"frame: expected [H, W, 3] (BGR), got a 2-D (grayscale) array of shape {frame.shape};"
            " convert with cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)"
        )
    if frame.ndim != 3 or frame.shape[2] not in (3, 4):
        raise ValueError(f"frame: expected shape [H, W, 3] or [H, W, 4], got {frame.shape}")
    if frame.shape[0] < 1 or frame.shape[1] < 1:
        raise ValueError(f"frame: expected a non-empty image, got shape {frame.shape}")
    if frame.strides[2] != 1 or frame.strides[1] != frame.shape[2] or frame.strides[0] < frame.shape[1] * frame.shape[2]:
        # A silent copy would hide a per-frame cost; crops (any row pitch) are fine as they are.
        raise ValueError(
            f"frame: expected packed pixels (strides (row, {frame.shape[2]}, 1)), got strides {frame.strides};"
            " pass numpy.ascontiguousarray(frame)"
        )
    return Frame(frame, rgb=rgb)
