"""COCO box metrics of a Detector against ground truth, computed by pycocotools (COCOeval,
"bbox"): the one evaluator of the project.

Conventions: the detector runs with the metric's usual settings (conf 0.001, IoU 0.7, max_det
300, as ultralytics' val) unless given its own. Ground truth from YOLO labels becomes COCO's
form as ultralytics' figures are made: category id = class + 1, bbox in pixels of each image's
size, area = w * h (COCO's segment areas are not in YOLO labels, so only the small/medium/large
split differs from COCO's own, never AP over all areas), iscrowd 0.

COCOeval scores only the ``max_dets`` highest-scoring boxes per image (its default 100), whatever
the detector returned. fastdet keeps that default: it is how COCO's leaderboard, ultralytics'
published pycocotools figures and every paper count, so numbers stay comparable. Scoring all 300
gives slightly higher AP on crowded images (more low-score boxes reach recall); pass
``max_dets=300`` to measure that, and the report says which was used.
"""

from __future__ import annotations

import contextlib
import io
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from .ground_truth import GroundTruth

#: Detector settings of the metric (ultralytics' val defaults).
EVAL_OPTIONS = {"conf": 0.001, "iou": 0.7, "max_det": 300}

#: Boxes per image COCOeval scores (its own default; see the module docstring).
COCO_MAX_DETS = 100


@dataclass
class CocoMetrics:
    """map50_95: AP averaged over IoU 0.50:0.95; map50: AP at IoU 0.5 (both over the classes with
    ground truth); per_class / per_class_ap50: class id -> AP50-95 / AP50 for classes with ground
    truth; images / boxes: how much ground truth was scored; max_dets: boxes per image scored;
    recall / pr_curves: COCO's 101 recall points, and class id -> precision at each of them at
    IoU 0.5 (for PR plots)."""

    map50_95: float
    map50: float
    per_class: dict[int, float] = field(default_factory=dict)
    per_class_ap50: dict[int, float] = field(default_factory=dict)
    images: int = 0
    boxes: int = 0
    max_dets: int = COCO_MAX_DETS
    recall: list[float] = field(default_factory=list)
    pr_curves: dict[int, list[float]] = field(default_factory=dict)

    def ap(self, class_id: int) -> float:
        """AP50-95 of one class (KeyError when the data has none of it)."""
        return self.per_class[class_id]

    def summary(self) -> dict[str, Any]:
        """The metrics without the curves (for reports)."""
        return {"map50_95": self.map50_95, "map50": self.map50, "per_class": self.per_class,
                "per_class_ap50": self.per_class_ap50, "images": self.images, "boxes": self.boxes,
                "coco_max_dets": self.max_dets}


def _cocoeval() -> tuple[Any, Any]:
    try:
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
    except ImportError:
        raise ImportError("the COCO evaluator needs pycocotools: pip install 'fastdet[quality]'") from None
    return COCO, COCOeval


def score(gt: dict[str, Any], detections: list[dict[str, Any]], *, max_dets: int = COCO_MAX_DETS,
          class_of: Callable[[int], int] = lambda category: category) -> CocoMetrics:
    """Runs COCOeval on COCO-format ground truth and result rows
    ({"image_id", "category_id", "bbox": [x, y, w, h], "score"}). ``class_of`` maps a category id
    to the class id the per-class results are keyed by."""
    COCO, COCOeval = _cocoeval()
    if max_dets < 1:
        from ..errors import InputError

        raise InputError(f"max_dets: expected at least 1 box per image, got {max_dets}")
    n_boxes = sum(1 for a in gt["annotations"] if not a.get("iscrowd"))
    if not detections or not n_boxes:
        classes = {class_of(a["category_id"]) for a in gt["annotations"] if not a.get("iscrowd")}
        return CocoMetrics(0.0, 0.0, dict.fromkeys(classes, 0.0), dict.fromkeys(classes, 0.0), len(gt["images"]),
                           n_boxes, max_dets)
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
        coco = COCO()
        coco.dataset = gt
        coco.createIndex()
        ev = COCOeval(coco, coco.loadRes(detections), "bbox")
        # COCOeval sorts maxDets and scores the largest: keep max_dets the largest of the three.
        ev.params.maxDets = [min(1, max_dets), min(10, max_dets), max_dets]
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    # precision[T, R, K, A, M]: IoU thresholds, recall points, classes, area "all", the last maxDets.
    precision = ev.eval["precision"][:, :, :, 0, -1]
    per_class, per_class_ap50, curves = {}, {}, {}
    for k, cat in enumerate(ev.params.catIds):
        p = precision[:, :, k]
        if (p > -1).any():
            cls = class_of(int(cat))
            per_class[cls] = float(p[p > -1].mean())
            per_class_ap50[cls] = float(p[0][p[0] > -1].mean()) if (p[0] > -1).any() else 0.0
            curves[cls] = [max(float(v), 0.0) for v in p[0]]
    return CocoMetrics(float(ev.stats[0]), float(ev.stats[1]), per_class, per_class_ap50, len(gt["images"]), n_boxes,
                       max_dets, [float(r) for r in ev.params.recThrs], curves)


@dataclass
class Predictions:
    """A detector's output on a dataset, aligned with its images.

    boxes / scores / classes: per image, float32[N, 4] xyxy pixels, float32[N], int32[N].
    shapes: per image (height, width). latency_ms: per image, the detect() call's wall time.
    """

    boxes: list[np.ndarray] = field(default_factory=list)
    scores: list[np.ndarray] = field(default_factory=list)
    classes: list[np.ndarray] = field(default_factory=list)
    shapes: list[tuple[int, int]] = field(default_factory=list)
    latency_ms: list[float] = field(default_factory=list)


def predict(detector: Any, gt: GroundTruth, progress: bool = False) -> Predictions:
    """Runs ``detector`` on every image of ``gt`` (one call each, timed). An image that cannot be
    decoded is removed from ``gt`` and counted in ``gt.issues``."""
    from ..errors import InputError
    from ..frames import read_image

    out = Predictions()
    kept = []
    images = gt.images
    if progress:
        import sys

        from tqdm import tqdm

        images = tqdm(images, unit="img", file=sys.stderr, disable=len(images) < 2 or None)
    for img in images:
        try:
            frame = read_image(img.path)
        except InputError as e:
            gt.issues.add("unreadable_image", f"{img.path.name} ({e})")
            continue
        t0 = time.perf_counter()
        dets = detector.detect(frame)
        out.latency_ms.append((time.perf_counter() - t0) * 1e3)
        out.boxes.append(dets.xyxy)
        out.scores.append(dets.scores)
        out.classes.append(dets.class_ids)
        out.shapes.append(dets.image_shape)
        if img.size is not None and img.size != dets.image_shape:
            gt.issues.add("size_mismatch", f"{img.path.name} ({img.size[1]}x{img.size[0]} in the annotations, "
                                           f"{dets.image_shape[1]}x{dets.image_shape[0]} decoded)")
        kept.append(img)
    if not kept and gt.images:
        raise InputError(f"none of the {len(gt.images)} images could be decoded; nothing to score")
    gt.images = kept
    return out


def result_rows(gt: GroundTruth, preds: Predictions) -> list[dict[str, Any]]:
    """COCO result rows of ``preds`` (image ids 0..N-1 as in ``gt.to_coco``); classes the
    ground truth has no category for are left out."""
    rows: list[dict[str, Any]] = []
    for image_id, (xyxy, scores, classes) in enumerate(zip(preds.boxes, preds.scores, preds.classes)):
        xywh = xyxy.astype(np.float64)
        xywh[:, 2:] -= xywh[:, :2]
        rows += [{"image_id": image_id, "category_id": gt.category_ids[c], "bbox": b, "score": s}
                 for b, s, c in zip(xywh.tolist(), scores.tolist(), classes.tolist()) if c in gt.category_ids]
    return rows


def score_predictions(gt: GroundTruth, preds: Predictions, max_dets: int = COCO_MAX_DETS) -> CocoMetrics:
    """COCO metrics of ``preds`` on ``gt`` (as returned by ``predict``)."""
    class_of = {v: k for k, v in gt.category_ids.items()}
    return score(gt.to_coco(preds.shapes), result_rows(gt, preds), max_dets=max_dets, class_of=class_of.__getitem__)


def evaluate(detector: Any, gt: GroundTruth, max_dets: int = COCO_MAX_DETS,
             progress: bool = False) -> tuple[CocoMetrics, Predictions]:
    """COCO metrics of ``detector`` (a fastdet.Detector, built with ``EVAL_OPTIONS`` for numbers
    comparable with published mAP) on ``gt``, and its predictions."""
    preds = predict(detector, gt, progress)
    return score_predictions(gt, preds, max_dets), preds


def latency_summary(latency_ms: Sequence[float]) -> dict[str, float]:
    """Mean, median and 95th percentile of per-image latencies (ms); the first image's (warm-up)
    is left out when there are more."""
    ms = np.asarray(latency_ms[1:] if len(latency_ms) > 1 else latency_ms, np.float64)
    if not ms.size:
        return {"mean_ms": float("nan"), "p50_ms": float("nan"), "p95_ms": float("nan")}
    return {"mean_ms": float(ms.mean()), "p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95))}
