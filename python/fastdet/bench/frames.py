"""Synthetic frames for ``fastdet bench`` (deterministic from a seed, so two runs time the same
data)."""

from __future__ import annotations

import numpy as np

from ..errors import InputError


def parse_size(text: str) -> tuple[int, int]:
    """``"1920x1080"`` -> (width, height)."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise InputError(f"frame size: expected WIDTHxHEIGHT such as 1920x1080, got {text!r}") from None
    if w < 1 or h < 1:
        raise InputError(f"frame size: expected positive width and height, got {text!r}")
    return w, h


def frame(width: int = 1920, height: int = 1080, seed: int = 0) -> np.ndarray:
    """uint8[height, width, 3] BGR: smooth gradients plus noise (letterbox cost does not depend on
    content, but a constant frame could flatter a cache or a compressor)."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    x = np.linspace(0, 255, width, dtype=np.float32)[None, :]
    base = np.stack([(x + y) * 0.5, np.broadcast_to(x, (height, width)), np.broadcast_to(y, (height, width))], -1)
    noise = rng.integers(0, 32, size=(height, width, 3), dtype=np.uint8)
    return np.ascontiguousarray((base * 0.85).astype(np.uint8) + noise)
