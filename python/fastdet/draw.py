"""Annotated images: ``Detections.plot`` / ``save`` and `fastdet detect --save`.

supervision's annotators draw when supervision is installed (the look its users know); otherwise
OpenCV does, here. Either way labels stay inside the image.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .frames import Frame, FrameLike, as_frame
from .errors import InputError
from .results import Detections

_PALETTE = [(56, 56, 255), (151, 157, 255), (31, 112, 255), (29, 178, 255), (49, 210, 207), (10, 249, 72),
            (23, 204, 146), (134, 219, 61), (52, 147, 26), (187, 212, 0), (168, 153, 44), (255, 194, 0)]


def line_thickness(height: int, width: int) -> int:
    """Box line width for an image of this size (ultralytics' rule: 0.3% of the mean side)."""
    return max(1, round((height + width) / 2 * 0.003))


def label_box(anchor: tuple[int, int], text_size: tuple[int, int], image_size: tuple[int, int]) -> tuple[int, int]:
    """Top-left corner of a label of ``text_size`` (w, h) for a box whose top-left is ``anchor``:
    above the box when it fits, else just inside it, and always within ``image_size`` (w, h)."""
    (x, y), (tw, th), (w, h) = anchor, text_size, image_size
    top = y - th if y - th >= 0 else y
    return min(max(x, 0), max(w - tw, 0)), min(max(top, 0), max(h - th, 0))


def annotate(image: np.ndarray, dets: Detections, rgb: bool = False) -> np.ndarray:
    """Returns a copy of image (uint8[H, W, 3|4], BGR unless rgb) with boxes and labels drawn by
    OpenCV: uint8[H, W, 3]."""
    import cv2

    out = np.ascontiguousarray(image[:, :, :3]).copy()
    h, w = out.shape[:2]
    thickness = line_thickness(h, w)
    scale, text_thickness = thickness / 3, max(thickness - 1, 1)
    for b in dets:
        color = _PALETTE[b.class_id % len(_PALETTE)]
        if rgb:
            color = color[::-1]
        p1, p2 = (int(b.x1), int(b.y1)), (int(b.x2), int(b.y2))
        cv2.rectangle(out, p1, p2, color, thickness, cv2.LINE_AA)
        label = f"{b.name} {b.score:.2f}"
        (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, text_thickness)
        lx, ly = label_box(p1, (tw, th + 3), (w, h))
        cv2.rectangle(out, (lx, ly), (lx + tw, ly + th + 3), color, -1, cv2.LINE_AA)
        cv2.putText(out, label, (lx, ly + th + 1), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255),
                    text_thickness, cv2.LINE_AA)
    return out


def plot(frame: FrameLike, dets: Detections, *, rgb: bool = False) -> np.ndarray:
    """Annotated copy of ``frame`` (uint8[H, W, 3|4] BGR, RGB when ``rgb``, or an image path),
    which must be the image ``dets`` came from: uint8[H, W, 3] in the frame's channel order."""
    return _draw(_checked(frame, dets, rgb), dets)


def save(path: str | os.PathLike[str], frame: FrameLike, dets: Detections, *, rgb: bool = False) -> Path:
    """Writes ``plot(frame, dets)`` to ``path`` (format from its suffix, folders created); returns it."""
    import cv2

    checked = _checked(frame, dets, rgb)
    image = _draw(checked, dets)
    if checked.rgb:
        image = np.ascontiguousarray(image[:, :, ::-1])
    out = Path(path)
    if not cv2.haveImageWriter(str(out)):  # before any folder is made for it
        raise InputError(f"path: cannot write an image to {str(out)!r}: expected an image suffix (.jpg, .png, ...)")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"path: cannot make the folder {str(out.parent)!r}: {e.strerror or e}") from None
    try:
        ok = cv2.imwrite(str(out), image)
    except cv2.error:
        ok = False
    if not ok:
        raise InputError(f"path: cannot write an image to {str(out)!r}: expected an image suffix "
                         "(.jpg, .png, ...) in a writable folder")
    return out


def _checked(frame: FrameLike, dets: Detections, rgb: bool) -> Frame:
    if isinstance(frame, np.ndarray):
        # Drawing copies anyway, so any memory layout will do (detection, which never copies, is stricter).
        frame = np.ascontiguousarray(frame)
    checked = as_frame(frame, rgb=rgb)
    if checked.shape != tuple(dets.image_shape):
        (h, w), (fh, fw) = dets.image_shape, checked.shape
        raise InputError(f"frame: expected the {w}x{h} image these detections were found in, got {fw}x{fh}")
    return checked


def _draw(frame: Frame, dets: Detections) -> np.ndarray:
    from . import supervision_bridge

    if not supervision_bridge.usable_for_drawing():
        return annotate(frame.pixels, dets, rgb=frame.rgb)
    pixels = frame.pixels[:, :, :3]
    bgr = (pixels[:, :, ::-1] if frame.rgb else pixels).copy()
    out = supervision_bridge.annotate(bgr, dets, line_thickness(*frame.shape))
    return np.ascontiguousarray(out[:, :, ::-1]) if frame.rgb else out
