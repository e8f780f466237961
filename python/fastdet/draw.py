"""Annotated images for `fastdet detect --save`."""

from __future__ import annotations

import numpy as np

from .results import Detections

_PALETTE = [(56, 56, 255), (151, 157, 255), (31, 112, 255), (29, 178, 255), (49, 210, 207), (10, 249, 72),
            (23, 204, 146), (134, 219, 61), (52, 147, 26), (187, 212, 0), (168, 153, 44), (255, 194, 0)]


def annotate(image: np.ndarray, dets: Detections, rgb: bool = False) -> np.ndarray:
    """Returns a copy of image (uint8[H, W, 3], BGR unless rgb) with boxes and labels drawn."""
    import cv2

    out = np.ascontiguousarray(image[:, :, :3]).copy()
    thickness = max(1, round(sum(out.shape[:2]) / 2 * 0.003))
    for b in dets:
        color = _PALETTE[b.class_id % len(_PALETTE)]
        if rgb:
            color = color[::-1]
        p1, p2 = (int(b.x1), int(b.y1)), (int(b.x2), int(b.y2))
        cv2.rectangle(out, p1, p2, color, thickness, cv2.LINE_AA)
        label = f"{b.name} {b.score:.2f}"
        scale = thickness / 3
        (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, max(thickness - 1, 1))
        top = p1[1] - th - 3 >= 0
        q2 = (p1[0] + tw, p1[1] - th - 3 if top else p1[1] + th + 3)
        cv2.rectangle(out, p1, q2, color, -1, cv2.LINE_AA)
        org = (p1[0], p1[1] - 2 if top else p1[1] + th + 2)
        cv2.putText(out, label, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), max(thickness - 1, 1),
                    cv2.LINE_AA)
    return out
