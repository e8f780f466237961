"""Public letterbox: the exact serving preprocessing, for training pipelines and tests."""

from __future__ import annotations

import numbers

import numpy as np

from . import _core, recipes
from .errors import InputError, InputTypeError
from .frames import FrameLike, as_frame
from .model import MAX_INPUT_SIDE


def _side(v: object) -> int:
    # numpy integer scalars count as ints; bools and floats do not (640.0 is a typo waiting to happen).
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise InputTypeError(f"size: expected an int or (height, width) of ints, got {type(v).__name__}")
    return int(v)


def _size_hw(size: object) -> tuple[int, int]:
    if isinstance(size, numbers.Integral) and not isinstance(size, bool):
        return int(size), int(size)
    if not isinstance(size, (tuple, list, np.ndarray)) or len(size) != 2:
        raise InputTypeError(f"size: expected an int or (height, width), got {size!r}")
    return _side(size[0]), _side(size[1])


def letterbox(
    frame: FrameLike,
    size: int | tuple[int, int] = 640,
    *,
    recipe: _core.Recipe | str = "ultralytics",
    rgb: bool = False,
    out: np.ndarray | None = None,
) -> tuple[np.ndarray, _core.Geometry]:
    """Letterboxes one frame as fastdet does before inference, bit-exact with the OpenCV
    pipeline: ``cv2.resize(frame, (new_w, new_h), interpolation=cv2.INTER_LINEAR)``, the pad,
    the channel order and the recipe's float formula (ultralytics' ``LetterBox`` then ``/ 255``
    for the default recipe), value for value, on the CPU and on the GPU.

    frame: uint8[H, W, 3|4] BGR(A) (RGB(A) when ``rgb``) or an image path.
    size: network input, an int for square or (height, width).
    recipe: a ``Recipe`` or a preset name (``ultralytics``, ``yolox``, ``stretch``).
    out: optional float32[3, height, width] C-contiguous buffer to write into (reused, no allocation).
    Returns (float32[3, height, width] tensor, Geometry); ``Geometry`` maps boxes back.
    """
    h, w = _size_hw(size)
    if not (1 <= h <= MAX_INPUT_SIDE and 1 <= w <= MAX_INPUT_SIDE):
        raise InputError(f"size: expected 1 to {MAX_INPUT_SIDE} pixels per side, got {(h, w)}")
    f = as_frame(frame, rgb=rgb)
    r = recipes.preset(recipe) if isinstance(recipe, str) else recipe
    if not isinstance(r, _core.Recipe):
        raise InputTypeError(f"recipe: expected a Recipe or a preset name, got {type(r).__name__}")
    if out is None:
        out = np.empty((3, h, w), dtype=np.float32)
    elif not isinstance(out, np.ndarray):
        raise InputTypeError(f"out: expected a numpy float32 array [3, {h}, {w}], got {type(out).__name__}")
    elif out.shape != (3, h, w):
        raise InputError(f"out: expected shape {(3, h, w)} for size {(h, w)}, got {out.shape}")
    geometry = _core.letterbox_into(f.pixels, out, r, f.rgb)
    return out, geometry
