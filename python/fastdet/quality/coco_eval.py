"""COCO box metrics of a Detector on a YOLO-format dataset, computed by pycocotools (COCOeval,
"bbox"): the one evaluator of the project.

    python -m fastdet.quality.coco_eval MODEL --data DIR_OR_SPLIT [--backend B] [--json]

Conventions: the detector runs with the metric's usual settings (conf 0.001, IoU 0.7, max_det
300, as ultralytics' val) unless given its own; ground-truth boxes come from the YOLO labels
scaled to each image's size, all non-crowd, area = box area (COCO's segment areas are not in YOLO
labels, so only the small/medium/large split differs from COCO's own, never AP over all areas);
category ids are the model's class ids. AP is COCO's 101-point interpolated AP at maxDets 100.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .yolo_data import list_images, read_labels

#: Detector settings of the metric (ultralytics' val defaults).
EVAL_OPTIONS = {"conf": 0.001, "iou": 0.7, "max_det": 300}


@dataclass
class CocoMetrics:
    """map50_95: AP averaged over IoU 0.50:0.95; map50: AP at IoU 0.5; per_class: class id ->
    AP50-95 for classes with ground truth; images / boxes: how much ground truth was scored."""

    map50_95: float
    map50: float
    per_class: dict[int, float] = field(default_factory=dict)
    images: int = 0
    boxes: int = 0
    seconds: float = 0.0

    def ap(self, class_id: int) -> float:
        """AP50-95 of one class (KeyError when the data has none of it)."""
        return self.per_class[class_id]


def ground_truth(images: Sequence[Path], shapes: Sequence[tuple[int, int]], names: dict[int, str]) -> dict[str, Any]:
    """COCO-format ground truth of YOLO labels. shapes: (height, width) of each image."""
    anns, imgs = [], []
    for image_id, (path, (h, w)) in enumerate(zip(images, shapes)):
        imgs.append({"id": image_id, "file_name": path.name, "height": h, "width": w})
        for cls, cx, cy, bw, bh in read_labels(path):
            if int(cls) not in names:
                raise ValueError(f"labels of {path.name}: class {int(cls)} is not one of the model's {len(names)} classes")
            box = [(cx - bw / 2) * w, (cy - bh / 2) * h, bw * w, bh * h]
            anns.append({"id": len(anns) + 1, "image_id": image_id, "category_id": int(cls), "bbox": box,
                         "area": box[2] * box[3], "iscrowd": 0})
    cats = [{"id": k, "name": v} for k, v in sorted(names.items())]
    return {"images": imgs, "annotations": anns, "categories": cats}


def score(gt: dict[str, Any], detections: list[dict[str, Any]]) -> CocoMetrics:
    """Runs COCOeval on COCO-format ground truth and result rows
    ({"image_id", "category_id", "bbox": [x, y, w, h], "score"})."""
    try:
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
    except ImportError:
        raise ImportError("the COCO evaluator needs pycocotools: pip install 'fastdet[quality]'") from None
    n_boxes = len(gt["annotations"])
    if not detections or not n_boxes:
        return CocoMetrics(0.0, 0.0, {c: 0.0 for c in {a["category_id"] for a in gt["annotations"]}},
                           len(gt["images"]), n_boxes)
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
        coco = COCO()
        coco.dataset = gt
        coco.createIndex()
        ev = COCOeval(coco, coco.loadRes(detections), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    # precision[T, R, K, A, M]: IoU thresholds, recall points, classes, area "all", maxDets 100.
    precision = ev.eval["precision"][:, :, :, 0, -1]
    per_class = {}
    for k, cat in enumerate(ev.params.catIds):
        p = precision[:, :, k]
        if (p > -1).any():
            per_class[int(cat)] = float(p[p > -1].mean())
    return CocoMetrics(float(ev.stats[0]), float(ev.stats[1]), per_class, len(gt["images"]), n_boxes)


def detect_all(detector: Any, images: Sequence[Path], first_id: int = 0) -> tuple[list[dict[str, Any]], list[tuple[int, int]]]:
    """COCO result rows of ``detector`` on ``images`` (image ids from ``first_id``) and each
    image's (height, width)."""
    from ..frames import read_image

    rows: list[dict[str, Any]] = []
    shapes = []
    for image_id, path in enumerate(images, first_id):
        dets = detector.detect(read_image(path))
        shapes.append(dets.image_shape)
        xywh = dets.xyxy.astype(np.float64)
        xywh[:, 2:] -= xywh[:, :2]
        rows += [{"image_id": image_id, "category_id": int(c), "bbox": [float(v) for v in b], "score": float(s)}
                 for b, s, c in zip(xywh, dets.scores, dets.class_ids)]
    return rows, shapes


def evaluate(detector: Any, data: str | os.PathLike[str], limit: int | None = None) -> CocoMetrics:
    """COCO metrics of ``detector`` (a fastdet.Detector, built with ``EVAL_OPTIONS`` for numbers
    comparable with published mAP) on the images of ``data`` (folder or split file)."""
    images = list_images(data)[:limit]
    t0 = time.perf_counter()
    rows, shapes = detect_all(detector, images)
    seconds = time.perf_counter() - t0
    metrics = score(ground_truth(images, shapes, detector.names), rows)
    metrics.seconds = seconds
    return metrics


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m fastdet.quality.coco_eval", description=__doc__.split("\n\n")[0])
    p.add_argument("model", help="ONNX detector, OpenVINO IR or export folder")
    p.add_argument("--data", required=True, help="folder of images (YOLO layout) or split file (.txt)")
    p.add_argument("--backend", default="auto")
    p.add_argument("--limit", type=int, default=None, help="first N images only")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    args = p.parse_args(argv)
    from ..detector import Detector

    try:
        det = Detector(args.model, backend=args.backend, **EVAL_OPTIONS)
        m = evaluate(det, args.data, args.limit)
    except (ValueError, FileNotFoundError, RuntimeError, ImportError) as e:
        print(f"coco_eval: error: {e}", file=sys.stderr)
        return 2
    if args.json:
        json.dump({"backend": det.backend, **asdict(m)}, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        person = f", person AP50-95 {m.per_class[0]:.4f}" if 0 in m.per_class else ""
        print(f"{args.model} ({det.backend}): mAP50-95 {m.map50_95:.4f}, mAP50 {m.map50:.4f}{person} "
              f"({m.images} images, {m.boxes} boxes, {m.seconds:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
