"""Per-frame signals of a deployed detector's input and output, for drift monitoring.

Scalars per frame: brightness (mean grey level), contrast (its standard deviation), sharpness
(variance of the Laplacian of the grey image: blur drives it down), detections, persons, and
no_person (1 when the frame has no person). Pooled per box: confidence and size (square root of
the box area over the image area, so it reads as a fraction of the image side). Resolution is
kept apart: it is compared exactly, not as a distribution.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Signals with one value per frame.
FRAME_SIGNALS = ("brightness", "contrast", "sharpness", "detections", "persons", "no_person")
#: Signals with one value per detected box, pooled over frames.
BOX_SIGNALS = ("confidence", "box_size")
SIGNALS = FRAME_SIGNALS + BOX_SIGNALS


@dataclass(frozen=True)
class FrameSignals:
    """One frame's signals: (height, width), the per-frame scalars, and per-box float64 arrays."""

    shape: tuple[int, int]
    scalars: dict[str, float]
    boxes: dict[str, np.ndarray]


def image_signals(frame: np.ndarray) -> dict[str, float]:
    """brightness, contrast, sharpness of frame: uint8[H, W, 3] BGR (or [H, W] grey)."""
    import cv2

    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
    mean, std = cv2.meanStdDev(grey)
    lap = cv2.Laplacian(grey, cv2.CV_32F)
    return {"brightness": float(mean[0, 0]), "contrast": float(std[0, 0]), "sharpness": float(lap.var())}


def frame_signals(frame: np.ndarray, xyxy: np.ndarray, scores: np.ndarray, class_ids: np.ndarray,
                  person_class: int | None) -> FrameSignals:
    """Signals of one frame: uint8[H, W, 3] BGR, and its detections (float32[N, 4] xyxy pixels,
    float32[N] scores, int32[N] class ids) already filtered to the profile's threshold."""
    h, w = frame.shape[:2]
    scalars = image_signals(frame)
    persons = int((class_ids == person_class).sum()) if person_class is not None else 0
    scalars.update(detections=float(len(scores)), persons=float(persons), no_person=float(persons == 0))
    wh = (xyxy[:, 2:] - xyxy[:, :2]).astype(np.float64).clip(0)
    size = np.sqrt(wh[:, 0] * wh[:, 1] / float(h * w)) if len(wh) else np.zeros(0)
    return FrameSignals((h, w), scalars, {"confidence": scores.astype(np.float64), "box_size": size})
