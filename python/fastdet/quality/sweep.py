"""Accuracy against latency over input sizes and backends (``fastdet eval --sizes --backends``),
and the most accurate configuration within a latency budget on this machine.

Each size runs a copy of the model made for it (``resize_model``); every configuration is scored
on the same ground truth, read once, in the same run, so the rows compare with each other.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from ..errors import InputError
from . import coco_eval, eval_report
from .evaluation import load_truth
from .resize_model import model_size, resize_onnx

#: What ``--budget-ms`` compares: the median latency per image (less noisy than the mean).
LATENCY_KEY = "p50_ms"


@dataclass
class SweepRow:
    size: int
    backend: str
    precision: str
    map50_95: float
    map50: float
    person_ap50_95: float | None
    person_ap50: float | None
    latency: dict[str, float]


def run_sweep(model: str | Path, data: str, sizes: Sequence[int], backends: Sequence[str], *,
              options: dict[str, Any], coco_max_dets: int = coco_eval.COCO_MAX_DETS, split: str | None = None,
              images: str | None = None, strict: bool = False, limit: int | None = None,
              progress: bool = False) -> list[SweepRow]:
    """Evaluates ``model`` at each of ``sizes`` on each of ``backends``. Choosing a configuration
    is model selection, so the sealed test split is refused here, as in ``promote``."""
    from ..detector import Detector

    model = Path(model)
    if not model.is_file() or model.suffix.lower() != ".onnx":
        raise InputError(f"--sizes: needs an ONNX file to resize, got {str(model)!r}")
    own = model_size(model)
    rows: list[SweepRow] = []
    gt = None
    with tempfile.TemporaryDirectory(prefix="fastdet-sizes-") as tmp:
        for size in sizes:
            path = model if own == (size, size) else resize_onnx(model, Path(tmp) / f"{model.stem}_{size}.onnx",
                                                                 (size, size))
            for backend in backends:
                det = Detector(path, backend=backend, **options)
                if gt is None:
                    gt, _, _ = load_truth(data, det.names, split=split, images=images, strict=strict, limit=limit,
                                          purpose="size and backend sweep")
                truth = gt.copy()
                metrics, preds = coco_eval.evaluate(det, truth, coco_max_dets, progress)
                person = eval_report.person_class(det.names)
                rows.append(SweepRow(size, det.backend, eval_report.backend_precision(det), metrics.map50_95,
                                     metrics.map50, metrics.per_class.get(person) if person is not None else None,
                                     metrics.per_class_ap50.get(person) if person is not None else None,
                                     coco_eval.latency_summary(preds.latency_ms)))
    return rows


def best_within(rows: Sequence[SweepRow], budget_ms: float, metric: str = "map50_95") -> SweepRow | None:
    """The row with the highest ``metric`` whose median latency is within ``budget_ms``."""
    fits = [r for r in rows if r.latency[LATENCY_KEY] <= budget_ms and getattr(r, metric) is not None]
    return max(fits, key=lambda r: getattr(r, metric)) if fits else None


def table(rows: Sequence[SweepRow]) -> str:
    lines = [f"{'size':>5s} {'backend':16s} {'precision':9s} {'mAP50-95':>8s} {'mAP50':>7s} {'person AP':>9s} "
             f"{'person AP50':>11s} {'p50 ms':>7s} {'mean ms':>7s}"]
    for r in rows:
        pa = "-" if r.person_ap50_95 is None else f"{r.person_ap50_95:.4f}"
        pa50 = "-" if r.person_ap50 is None else f"{r.person_ap50:.4f}"
        lines.append(f"{r.size:5d} {r.backend:16s} {r.precision:9s} {r.map50_95:8.4f} {r.map50:7.4f} {pa:>9s} "
                     f"{pa50:>11s} {r.latency['p50_ms']:7.1f} {r.latency['mean_ms']:7.1f}")
    return "\n".join(lines)
