"""Champion and challenger: a registered version replaces the champion only when, evaluated on the
same validation data in the same run with the same settings, it beats the champion by a margin on
the chosen metric and meets the latency budget. The sealed test split is refused: a choice made on
it would make it a validation set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..errors import InputError
from . import coco_eval, eval_report
from .evaluation import load_truth
from .registry import Registry, now

#: Metrics a decision can rest on (keys of the report's "metrics").
METRICS = ("person_ap50_95", "person_ap50", "map50_95", "map50")


@dataclass(frozen=True)
class Policy:
    """metric: what must improve; margin: by at least this much (absolute, e.g. 0.005 = half a
    point of AP); budget_ms: the challenger's median latency per image must be within it (None:
    no absolute budget); max_slowdown: and within this multiple of the champion's, measured in the
    same run (None: no relative limit)."""

    metric: str = "person_ap50_95"
    margin: float = 0.005
    budget_ms: float | None = None
    max_slowdown: float | None = 1.25

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise InputError(f"metric: expected one of {', '.join(METRICS)}, got {self.metric!r}")
        # Written so that NaN fails every check: a NaN limit would make every gate pass.
        if not (_finite(self.margin) and self.margin >= 0):
            raise InputError(f"margin: expected a finite number, 0 or more, got {self.margin}")
        if self.budget_ms is not None and not (_finite(self.budget_ms) and self.budget_ms > 0):
            raise InputError(f"budget_ms: expected a finite positive number of milliseconds, got {self.budget_ms}")
        if self.max_slowdown is not None and not (_finite(self.max_slowdown) and self.max_slowdown > 0):
            raise InputError(f"max_slowdown: expected a finite positive ratio, got {self.max_slowdown}")


def _finite(x: Any) -> bool:
    try:
        return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
    except TypeError:
        return False


def decide(champion: dict[str, Any], challenger: dict[str, Any], policy: Policy) -> tuple[bool, str]:
    """(promote?, why) from the two eval reports."""
    a, b = champion["metrics"][policy.metric], challenger["metrics"][policy.metric]
    if a is None or b is None:
        raise InputError(f"promote: the data has no ground truth for {policy.metric} (no person boxes?); "
                         f"choose another --metric")
    la, lb = champion["latency_ms"]["p50_ms"], challenger["latency_ms"]["p50_ms"]
    reasons = []
    gain = b - a
    # Every gate is written as "refuse unless the condition holds" so that a NaN anywhere refuses.
    if not gain >= policy.margin:
        reasons.append(f"{policy.metric} {b:.4f} vs champion {a:.4f}: gain {gain:+.4f} is below the margin "
                       f"{policy.margin:g}")
    if policy.budget_ms is not None and not lb <= policy.budget_ms:
        reasons.append(f"median latency {lb:.1f} ms exceeds the budget {policy.budget_ms:g} ms")
    if policy.max_slowdown is not None and not lb <= la * policy.max_slowdown:
        ratio = f"{lb / la:.2f}" if la else "inf"
        reasons.append(f"median latency {lb:.1f} ms is {ratio}x the champion's {la:.1f} ms "
                       f"(limit {policy.max_slowdown:g}x)")
    if reasons:
        return False, "kept the champion: " + "; ".join(reasons)
    return True, (f"promoted: {policy.metric} {b:.4f} vs {a:.4f} (gain {gain:+.4f} >= margin {policy.margin:g}), "
                  f"median latency {lb:.1f} ms vs {la:.1f} ms")


def promote(registry: Registry, name: str, challenger: str, data: str, *, policy: Policy, backend: str = "auto",
            backend_options: dict[str, Any] | None = None, split: str | None = None, images: str | None = None,
            strict: bool = False, limit: int | None = None, progress: bool = False) -> dict[str, Any]:
    """Evaluates the champion and ``challenger`` of ``name`` on ``data`` and records the decision
    (returned as written to the registry)."""
    from ..detector import Detector

    if split == "test":
        raise InputError("promote: never on the test split; give the validation split")
    champ = registry.champion(name)
    if champ is None:
        raise InputError(f"promote: {name!r} has no versions in {registry.root}; `fastdet registry add` one first")
    if champ["version"] == challenger:
        raise InputError(f"promote: {challenger} already is the champion of {name}")
    options = {"conf": 0.001, "iou": 0.7, "max_det": 300}
    sides = {"champion": champ["version"], "challenger": challenger}
    detectors = {role: Detector(registry.model_path(name, v), backend=backend, **options, **(backend_options or {}))
                 for role, v in sides.items()}
    if detectors["champion"].names != detectors["challenger"].names:
        raise InputError("promote: champion and challenger have different classes; a metric cannot compare them")
    gt, _, _ = load_truth(data, detectors["champion"].names, split=split, images=images, strict=strict, limit=limit,
                          allow_test=False, purpose="promotion")
    reports = {}
    for role, det in detectors.items():
        truth = gt.copy()
        metrics, preds = coco_eval.evaluate(det, truth, progress=progress)
        reports[role] = eval_report.build(det, truth, metrics, preds.latency_ms, data=str(data),
                                          settings={**options, "coco_max_dets": coco_eval.COCO_MAX_DETS,
                                                    **(backend_options or {})})
        registry.add_eval(name, sides[role], reports[role])
    promoted, reason = decide(reports["champion"], reports["challenger"], policy)
    decision = {
        "time": now(), "name": name, "promoted": promoted, "reason": reason,
        "policy": vars(policy),
        "data": {"path": str(data), "sha256": reports["champion"]["data"]["sha256"],
                 "images": reports["champion"]["data"]["images"]},
        **{role: {"version": sides[role], "sha256": reports[role]["model"]["sha256"],
                  "backend": reports[role]["backend"], "metrics": {k: reports[role]["metrics"][k] for k in METRICS},
                  "latency_ms": reports[role]["latency_ms"]} for role in sides},
    }
    registry.decide(name, decision)
    return decision
