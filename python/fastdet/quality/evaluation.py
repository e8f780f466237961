"""One evaluation end to end: read and check the ground truth, respect the sealed test split,
run the detector, score with pycocotools, build the report. Shared by ``fastdet eval``, the
size/backend sweep and ``fastdet promote``."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

from ..errors import InputError
from . import coco_eval, eval_report, sealed
from .data_issues import DataIssues
from .data_source import read_ground_truth, resolve
from .ground_truth import GroundTruth

log = logging.getLogger("fastdet")


@dataclass
class EvalRun:
    """report: the JSON report; metrics, ground truth and predictions behind it; the Detector."""

    report: dict[str, Any]
    metrics: coco_eval.CocoMetrics
    gt: GroundTruth
    predictions: coco_eval.Predictions
    detector: Any


def load_truth(data: str | os.PathLike[str], names: dict[int, str], *, split: str | None = None,
               images: str | os.PathLike[str] | None = None, strict: bool = False, limit: int | None = None,
               allow_test: bool = False, purpose: str = "evaluation") -> tuple[GroundTruth, sealed.Seal | None, int]:
    """Ground truth of ``data`` checked (problems logged, or an error with ``strict``) and against
    the sealed test split; returns it, the seal found beside the data, and how many sealed test
    images it holds."""
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise InputError(f"{purpose}: limit must be 1 or more images, got {limit!r}")
    issues = DataIssues()
    gt = read_ground_truth(data, names, split=split, images=images, issues=issues)
    if limit is not None:
        gt.images = gt.images[:limit]
    if not gt.images:
        raise InputError(f"{purpose}: {data} has no image to score")
    seal = sealed.find_seal(resolve(data, split))
    n_test = sealed.check(seal, gt, allow_test, purpose)
    issues.report(strict, str(data))
    return gt, seal, n_test


def evaluate_model(model: str | os.PathLike[str], data: str | os.PathLike[str], *, backend: str = "auto",
                   backend_options: dict[str, Any] | None = None, conf: float = 0.001, iou: float = 0.7,
                   max_det: int = 300, coco_max_dets: int = coco_eval.COCO_MAX_DETS, split: str | None = None,
                   images: str | os.PathLike[str] | None = None, allow_test: bool = False, strict: bool = False,
                   limit: int | None = None, progress: bool = False, detector: Any = None,
                   predictor: Any = None) -> EvalRun:
    """Evaluates ``model`` on ``data`` (see ``data_source``) and returns the run. A look at the
    sealed test split (``allow_test``) is logged beside the split with the model's hash and
    metrics. ``detector``: an already built Detector of ``model`` to use instead of a new one.
    ``predictor(detector, gt) -> Predictions`` computes the predictions elsewhere (e.g. on Ray,
    ``fastdet.ray.predictor``); the metrics are computed here, once."""
    from ..detector import Detector

    det = detector or Detector(model, backend=backend, conf=conf, iou=iou, max_det=max_det,
                               **(backend_options or {}))
    gt, seal, n_test = load_truth(data, det.names, split=split, images=images, strict=strict, limit=limit,
                                  allow_test=allow_test)
    preds = predictor(det, gt) if predictor is not None else coco_eval.predict(det, gt, progress)
    metrics = coco_eval.score_predictions(gt, preds, coco_max_dets)
    # Images that failed to decode were found only now: report them too.
    if strict and gt.issues:
        gt.issues.report(strict, str(data))
    unreadable = gt.issues.counts.get("unreadable_image", 0) if gt.issues is not None else 0
    if unreadable:
        log.warning("%s: %d image(s) could not be decoded and were left out of the metrics", data, unreadable)
    if not gt.images:
        raise InputError(f"evaluation: no image of {data} could be decoded; nothing to score")
    settings = {"conf": conf, "iou": iou, "max_det": max_det, "coco_max_dets": coco_max_dets,
                **({"split": split} if split else {}), **(backend_options or {})}
    report = eval_report.build(det, gt, metrics, preds.latency_ms, data=str(data), settings=settings,
                               sealed_test_images=n_test)
    if n_test and seal is not None:
        sealed.log_use(seal, {"model": report["model"]["path"], "model_sha256": report["model"]["sha256"],
                              "backend": report["backend"], "data": str(data), "test_images": n_test,
                              "map50_95": metrics.map50_95, "person_ap50_95": report["metrics"]["person_ap50_95"]})
    return EvalRun(report, metrics, gt, preds, det)
