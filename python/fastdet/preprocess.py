"""Public letterbox: the exact serving preprocessing, for training pipelines and tests."""

from __future__ import annotations

import numpy as np

from . import _core, recipes
from .frames import FrameLike, as_frame


def _size_hw(size: int | tuple[int, int]) -> tuple[int, int]:
    if isinstance(size, int):
        return size, size
    if len(size) != 2:
        raise ValueError(f"size: expected an int or (height, width), got {size!r}")
    return int(size[0]), int(size[1])


def letterbox(
    frame: FrameLike,
    size: int | tuple[int, int] = 640,
    *,
    recipe: _core.Recipe | str = "ultralytics",
    rgb: bool = False,
    out: np.ndarray | None = None,
) -> tuple[np.ndarray, _core.Geometry]:
    """Letterboxes one frame as fastdet does before inference.

    frame: uint8[H, W, 3|4] BGR(A) (RGB(A) when ``rgb``) or an image path.
    size: network input, an int for square or (height, width).
    recipe: a ``Recipe`` or a preset name (``ultralytics``, ``yolox``, ``stretch``).
    out: optional float32[3, height, width] C-contiguous buffer to write into (reused, no allocation).
    Returns (float32[3, height, width] tensor, Geometry); ``Geometry`` maps boxes back.
    """
    h, w = _size_hw(size)
    if h < 1 or w < 1:
        raise ValueError(f"size: expected positive height and width, got {(h, w)}")
    f = as_frame(frame, rgb=rgb)
    r = recipes.preset(recipe) if isinstance(recipe, str) else recipe
    if out is None:
        out = np.empty((3, h, w), dtype=np.float32)
    elif out.shape != (3, h, w):
        raise ValueError(f"out: expected shape {(3, h, w)} for size {(h, w)}, got {out.shape}")
    geometry = _core.letterbox_into(f.pixels, out, r, f.rgb)
    return out, geometry
