"""The report of one evaluation: what was run (model hash, backend and its precision, settings),
on what (dataset hash, counts, problems found), the metrics and the latency per image; as JSON
and as the table ``fastdet eval`` prints."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from .coco_eval import CocoMetrics, latency_summary
from .ground_truth import GroundTruth
from .hashing import model_sha256


def backend_precision(detector: Any) -> str:
    """The arithmetic the backend runs the model in: OpenVINO's inference precision after its
    "auto" choice (bf16 on CPUs with AMX / AVX512-BF16), else fp32 for the CPU runtimes."""
    backend = getattr(detector, "_backend", None)
    precision = getattr(backend, "inference_precision", None)
    if precision:
        return {"f32": "fp32", "f16": "fp16"}.get(str(precision), str(precision))
    options = getattr(backend, "options", None)
    return str(getattr(options, "precision", None) or "fp32")


def person_class(names: dict[int, str]) -> int | None:
    """The id of the class named "person", if the model has one."""
    return next((k for k, v in names.items() if v == "person"), None)


def build(detector: Any, gt: GroundTruth, metrics: CocoMetrics, latency_ms: list[float], *, data: str,
          settings: dict[str, Any], sealed_test_images: int = 0) -> dict[str, Any]:
    """The JSON report of an evaluation (plain data)."""
    from .. import __version__

    person = person_class(gt.names)
    per_box = gt.boxes_per_class()
    per_class = {gt.names.get(c, str(c)): {"class_id": c, "boxes": per_box.get(c, 0), "ap50_95": ap,
                                            "ap50": metrics.per_class_ap50.get(c, 0.0)}
                 for c, ap in sorted(metrics.per_class.items())}
    h, w = detector.input_size
    return {
        "fastdet_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "model": {"path": str(detector.info.path), "sha256": model_sha256(detector.info.path), "input": [h, w],
                  "format": detector.info.format},
        "backend": {"name": detector.backend, "precision": backend_precision(detector)},
        "settings": settings,
        "data": {"path": data, "source": gt.source, "sha256": gt.sha256(), "images": metrics.images,
                 "boxes": metrics.boxes, "issues": gt.issues.as_dict(), "sealed_test_images": sealed_test_images},
        "metrics": {
            "map50_95": metrics.map50_95,
            "map50": metrics.map50,
            "person_ap50_95": metrics.per_class.get(person) if person is not None else None,
            "person_ap50": metrics.per_class_ap50.get(person) if person is not None else None,
            "per_class": per_class,
        },
        "latency_ms": {**latency_summary(latency_ms),
                       "what": "Detector.detect per image (letterbox, inference, decode + NMS; not file decoding), "
                               "first image left out"},
    }


def _fmt(v: float | None, digits: int = 4) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def table(report: dict[str, Any], per_class: bool = True) -> str:
    """The report as text: a header line, the summary metrics and, with ``per_class``, one row
    per class with ground truth."""
    m, d, s, lat = report["metrics"], report["data"], report["settings"], report["latency_ms"]
    model = Path(report["model"]["path"]).name
    lines = [
        f"{model} on {d['path']} ({d['images']} images, {d['boxes']} boxes); {report['backend']['name']} "
        f"{report['backend']['precision']}; conf {s['conf']} iou {s['iou']} max_det {s['max_det']}, "
        f"COCO maxDets {s['coco_max_dets']}",
        f"  mAP50-95        {_fmt(m['map50_95'])}",
        f"  mAP50           {_fmt(m['map50'])}",
        f"  person AP50-95  {_fmt(m['person_ap50_95'])}",
        f"  person AP50     {_fmt(m['person_ap50'])}",
        f"  latency         {lat['mean_ms']:.1f} ms/image mean, p50 {lat['p50_ms']:.1f}, p95 {lat['p95_ms']:.1f}",
    ]
    if d["issues"]:
        lines.append("  data problems   " + ", ".join(f"{n} {k}" for k, n in d["issues"].items()))
    if per_class and m["per_class"]:
        lines += ["", f"  {'class':16s} {'boxes':>6s} {'AP50-95':>8s} {'AP50':>7s}"]
        lines += [f"  {name[:16]:16s} {row['boxes']:6d} {row['ap50_95']:8.4f} {row['ap50']:7.4f}"
                  for name, row in m["per_class"].items()]
    return "\n".join(lines)
