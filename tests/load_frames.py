"""Distinct frames with known expected detections, for the load and correctness tests.

Frame k of a load test is a uniform grey frame of its own size (no two of the 8,000 share one)
and its own brightness. The tiny model scores its boxes by the input's mean brightness, and maps
them back to original pixels through the frame's own letterbox geometry, so a result given to
the wrong request differs in its boxes, its score or its image shape.
"""

from __future__ import annotations

import numpy as np

from fastdet import Detections
from tiny_models import yolov8_like

NAMES = "{0: 'person', 1: 'car'}"
BOXES = np.array([[20, 20, 16, 16], [44, 40, 10, 20]] + [[32, 32, 8, 8]] * 6, np.float32)
WEIGHTS = np.zeros((2, 8), np.float32)
WEIGHTS[0, 0] = 0.9
WEIGHTS[1, 1] = 0.8


def load_model(path):
    """A 64x64 dynamic-batch YOLOv8-layout model with one person box and one car box."""
    return yolov8_like(path, BOXES, WEIGHTS, metadata={"names": NAMES, "imgsz": "[64, 64]", "task": "detect"})


def frame(k: int) -> np.ndarray:
    """uint8[H, W, 3]: size (24 + k % 80) x (24 + k // 80 % 100), a grey level from k; distinct for
    k < 8000."""
    h, w = 24 + k % 80, 24 + k // 80 % 100
    return np.full((h, w, 3), 60 + (k * 37) % 190, np.uint8)


def same(a: Detections, b: Detections) -> bool:
    """Bit-identical detections of the same image."""
    return (a.image_shape == b.image_shape and np.array_equal(a.xyxy, b.xyxy) and np.array_equal(a.scores, b.scores)
            and np.array_equal(a.class_ids, b.class_ids))
