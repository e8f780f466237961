"""Deterministic raw head outputs for the decode tests (CPU and CUDA)."""

from __future__ import annotations

import numpy as np

from fastdet import _core

FORMATS = {"yolov8": _core.HeadFormat.YOLOV8, "yolov5": _core.HeadFormat.YOLOV5,
           "yolox": _core.HeadFormat.YOLOX, "end2end": _core.HeadFormat.END2END}


def random_output(fmt, n, nc, rng, *, hot=150, input_hw=(640, 640)):
    """A raw head output for one image with about `hot` anchors scoring above 0.25."""
    H, W = input_hw
    cx = rng.uniform(0, W, n).astype(np.float32)
    cy = rng.uniform(0, H, n).astype(np.float32)
    w = rng.uniform(2, 200, n).astype(np.float32)
    h = rng.uniform(2, 200, n).astype(np.float32)
    cls = rng.uniform(0, 0.2, (n, nc)).astype(np.float32)
    idx = rng.choice(n, min(hot, n), replace=False)
    cls[idx, rng.integers(0, nc, len(idx))] = rng.uniform(0.26, 1.0, len(idx))
    if fmt == "yolov8":
        return np.concatenate([np.stack([cx, cy, w, h]), cls.T]).astype(np.float32)
    if fmt == "yolov5":
        obj = np.ones(n, np.float32)
        obj[rng.choice(n, n // 10, replace=False)] = rng.uniform(0, 1, n // 10)
        return np.concatenate([np.stack([cx, cy, w, h, obj], 1), cls], 1).astype(np.float32)
    if fmt == "yolox":
        raw = np.stack([rng.uniform(-0.5, 1.5, n), rng.uniform(-0.5, 1.5, n),
                        rng.uniform(-1, 3, n), rng.uniform(-1, 3, n), np.ones(n)], 1).astype(np.float32)
        return np.concatenate([raw, cls], 1).astype(np.float32)
    x1, y1 = cx - w / 2, cy - h / 2
    score = np.sort(rng.uniform(0, 1, n))[::-1]
    return np.stack([x1, y1, x1 + w, y1 + h, score, rng.integers(0, nc, n)], 1).astype(np.float32)


def head_for(fmt, n, nc, input_hw=(640, 640)):
    return _core.HeadSpec(FORMATS[fmt], nc, n, input_hw[0], input_hw[1], [8, 16, 32])
