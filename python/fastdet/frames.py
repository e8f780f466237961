"""Frames: numpy images or image files, checked before they reach the native core."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import numpy as np

from . import _core
from .errors import InputError, InputTypeError

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
    if p.is_dir():
        raise InputError(f"image: {str(p)!r} is a folder, not an image file")
    if not p.is_file():
        raise InputError(f"image: no such file: {str(p)!r}")
    try:
        data = p.read_bytes()
    except OSError as e:  # permissions, a file vanishing, an I/O error
        raise InputError(f"image: cannot read {str(p)!r}: {e.strerror or e}") from None
    return decode_image(data, str(p))


def decode_image(data: bytes, name: str = "image") -> Frame:
    """Decodes an encoded image (JPEG, PNG, ...) with OpenCV (BGR) when installed, else Pillow
    (RGB): the one decoder of files, uploaded bytes and distributed reads, so every path sees the
    same pixels. ``name`` appears in the error."""
    try:
        import cv2
    except ImportError:
        cv2 = None
    if cv2 is not None:
        buf = np.frombuffer(data, dtype=np.uint8)
        img = cv2.imdecode(buf, cv2.IMREAD_COLOR) if buf.size else None
        if img is None:
            raise InputError(f"image: cannot decode {name!r} (not an image OpenCV can read)")
        return Frame(img, rgb=False)
    try:
        import io

        from PIL import Image, ImageOps, UnidentifiedImageError
    except ImportError:
        raise ImportError("reading image files needs OpenCV or Pillow: pip install 'fastdet[cpu]'") from None
    try:
        with Image.open(io.BytesIO(data)) as im:
            # Turned upright by its EXIF orientation, as cv2.imdecode (and so ultralytics) does.
            return Frame(np.asarray(ImageOps.exif_transpose(im).convert("RGB")), rgb=True)
    except (UnidentifiedImageError, OSError) as e:
        raise InputError(f"image: cannot decode {name!r}: {e}") from None


def as_frame(frame: FrameLike, rgb: bool = False) -> Frame:
    """Validates a frame: a path, or a numpy uint8 array [H, W, 3] (BGR, or RGB when ``rgb``)
    or [H, W, 4] (alpha ignored). Any row pitch is accepted (crops); pixels within a row must
    be packed, else ``InputError`` (a ValueError); a wrong type or dtype is ``InputTypeError``."""
    if isinstance(frame, Frame):
        return frame
    if isinstance(frame, (str, os.PathLike)):
        return read_image(frame)
    if not isinstance(frame, np.ndarray):
        if hasattr(frame, "__cuda_array_interface__"):
            raise InputTypeError(
                f"frame: a GPU array ({type(frame).__name__}) reaches a Detector that runs on the host: copy it "
                "to a numpy array (CuPy: .get(), PyTorch: .cpu().numpy()), or run a GPU backend (tensorrt, "
                "torch on cuda) with fastdet's CUDA build, which reads device frames in place")
        raise InputTypeError(
            f"frame: expected a numpy uint8 array [H, W, 3] or an image path, got {type(frame).__name__}")
    if frame.ndim == 2 and frame.dtype == np.uint8:
        raise InputError(
            f"frame: expected [H, W, 3] (BGR), got a 2-D (grayscale) array of shape {frame.shape};"
            " convert with cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)"
        )
    if not isinstance(rgb, (bool, np.bool_)):
        raise InputTypeError(f"rgb: expected True or False, got {type(rgb).__name__}")
    # The one frame check (dtype, shape, channels, size, packed pixels), shared with the native
    # letterbox and the CUDA pipeline. A silent copy of a non-packed array would hide a per-frame
    # cost; crops (any row pitch) are fine as they are.
    _core.check_frame(frame)
    return Frame(frame, rgb=bool(rgb))
