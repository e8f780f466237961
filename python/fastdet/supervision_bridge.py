"""supervision interop (optional): Detections -> ``sv.Detections``, and drawing with its annotators."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .results import Detections

#: LabelAnnotator's ``smart_position`` (labels kept inside the frame) arrived in supervision 0.25.
MIN_VERSION = (0, 25)


def _import() -> Any:
    try:
        import supervision
    except ImportError as e:
        # supervision present but failing on one of its own imports: say which.
        broken = f" (importing it failed: {e})" if e.name not in (None, "supervision") else ""
        raise ImportError(
            "Detections.to_supervision() needs the supervision package: pip install supervision "
            f"(or pip install 'fastdet[supervision]'){broken}"
        ) from None
    return supervision


def usable_for_drawing() -> bool:
    """True when a supervision new enough to keep labels inside the image is installed."""
    try:
        sv = _import()
    except ImportError:
        return False
    try:
        version = tuple(int(p) for p in sv.__version__.split(".")[:2])
    except (AttributeError, ValueError):
        return False
    return version >= MIN_VERSION


def to_supervision(dets: Detections) -> Any:
    """``sv.Detections`` sharing ``dets``' arrays (xyxy float32[N, 4], confidence float32[N],
    class_id int32[N]); class names in ``data["class_name"]``, as supervision's own connectors do."""
    sv = _import()
    names = np.array([dets.name(c) for c in dets.class_ids.tolist()], dtype=str)
    return sv.Detections(xyxy=dets.xyxy, confidence=dets.scores, class_id=dets.class_ids,
                         data={"class_name": names})


def annotate(image_bgr: np.ndarray, dets: Detections, thickness: int) -> np.ndarray:
    """Draws boxes and "name score" labels on ``image_bgr`` (uint8[H, W, 3], modified and returned)
    with supervision's BoxAnnotator and LabelAnnotator, labels snapped inside the image."""
    sv = _import()
    detections = to_supervision(dets)
    labels = [f"{b.name} {b.score:.2f}" for b in dets]
    image_bgr = sv.BoxAnnotator(thickness=thickness).annotate(image_bgr, detections)
    label = sv.LabelAnnotator(text_scale=thickness / 3, text_thickness=max(thickness - 1, 1),
                              text_padding=max(2, thickness * 2), smart_position=True)
    return label.annotate(image_bgr, detections, labels=labels)
