"""Box-level agreement between two detectors (two backends of one model, or two models) on the same
images: the check that an int8 or fp16 engine still finds what the fp32 CPU reference finds.

Per image and class, boxes of A and B are paired by an optimal assignment on IoU (scipy's
``linear_sum_assignment``, maximising total IoU) and a pair counts when its IoU reaches
``iou``; what is left over on either side is unmatched.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from ..errors import InputError


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """float64[N, M] IoU of xyxy boxes a float[N, 4] and b float[M, 4]."""
    a = a.astype(np.float64)[:, None, :]
    b = b.astype(np.float64)[None, :, :]
    iw = (np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0])).clip(0)
    ih = (np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1])).clip(0)
    inter = iw * ih
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    union = area_a + area_b - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


@dataclass
class Agreement:
    """Counts over all images: boxes of A and B, matched pairs, unmatched on each side, images,
    images where A and B found as many boxes; per matched pair the IoU and |score A - score B|."""

    boxes_a: int = 0
    boxes_b: int = 0
    matched: int = 0
    images: int = 0
    equal_count_images: int = 0
    ious: list[float] = field(default_factory=list)
    score_diffs: list[float] = field(default_factory=list)

    def add(self, a: Any, b: Any, iou: float = 0.5) -> None:
        """Adds one image's Detections of A and B (xyxy, scores, class_ids); a pair counts at IoU
        >= ``iou``, a finite number in (0, 1] (above 1 nothing could match, at 0 anything would)."""
        from scipy.optimize import linear_sum_assignment

        if isinstance(iou, bool) or not isinstance(iou, numbers.Real) or not (math.isfinite(iou) and 0 < iou <= 1):
            raise InputError(f"match IoU: expected a finite number in (0, 1], got {iou!r}")

        self.images += 1
        self.boxes_a += len(a)
        self.boxes_b += len(b)
        self.equal_count_images += int(len(a) == len(b))
        for c in np.union1d(a.class_ids, b.class_ids):
            ia, ib = np.flatnonzero(a.class_ids == c), np.flatnonzero(b.class_ids == c)
            if not len(ia) or not len(ib):
                continue
            m = box_iou(a.xyxy[ia], b.xyxy[ib])
            rows, cols = linear_sum_assignment(m, maximize=True)
            keep = m[rows, cols] >= iou
            self.matched += int(keep.sum())
            self.ious += m[rows, cols][keep].tolist()
            self.score_diffs += np.abs(a.scores[ia[rows[keep]]].astype(np.float64)
                                       - b.scores[ib[cols[keep]]].astype(np.float64)).tolist()

    @property
    def unmatched_a(self) -> int:
        return self.boxes_a - self.matched

    @property
    def unmatched_b(self) -> int:
        return self.boxes_b - self.matched

    def summary(self) -> dict[str, float]:
        """The figures ``--fail-under`` can gate on (fractions in [0, 1]; 1.0 when both sides are
        empty) and the score and IoU statistics of matched pairs."""
        union = self.matched + self.unmatched_a + self.unmatched_b
        diffs = np.asarray(self.score_diffs) if self.score_diffs else np.zeros(1)
        ious = np.asarray(self.ious) if self.ious else np.ones(1)
        return {
            "agreement": self.matched / union if union else 1.0,
            "matched_a": self.matched / self.boxes_a if self.boxes_a else 1.0,
            "matched_b": self.matched / self.boxes_b if self.boxes_b else 1.0,
            "equal_counts": self.equal_count_images / self.images if self.images else 1.0,
            "iou_median": float(np.median(ious)),
            "iou_min": float(ious.min()),
            "score_diff_median": float(np.median(diffs)),
            "score_diff_max": float(diffs.max()),
        }


#: Figures where higher is better (what --fail-under takes).
GATED = ("agreement", "matched_a", "matched_b", "equal_counts", "iou_median", "iou_min")


def parse_thresholds(items: Sequence[str]) -> dict[str, float]:
    """["agreement=0.95", "equal_counts=0.9"] -> {name: value}; names from ``GATED``."""
    out = {}
    for item in items:
        for part in item.split(","):
            name, _, value = part.partition("=")
            name = name.strip()
            if name not in GATED:
                raise InputError(f"--fail-under: unknown figure {name!r}; expected one of {', '.join(GATED)}")
            try:
                out[name] = float(value)
            except ValueError:
                raise InputError(f"--fail-under {part!r}: expected NAME=NUMBER, e.g. agreement=0.95") from None
            if not math.isfinite(out[name]):
                raise InputError(f"--fail-under {part!r}: expected a finite number")
    return out


def failures(summary: dict[str, float], fail_under: dict[str, float], max_score_diff: float | None = None) -> list[str]:
    """The gates ``summary`` misses, as lines a user reads. Written so that a NaN fails a gate."""
    out = [f"{k} {summary[k]:.4f} < {v:g}" for k, v in fail_under.items() if not summary[k] >= v]
    if max_score_diff is not None and not summary["score_diff_max"] <= max_score_diff:
        out.append(f"score_diff_max {summary['score_diff_max']:.4f} > {max_score_diff:g}")
    return out
