"""fastdet's Prometheus metrics on MLServer's /metrics endpoint.

    fastdet_stage_seconds{model, version, stage}        decode, preprocess, inference, postprocess (per batch)
    fastdet_batch_images{model}                         images per inference call (what adaptive batching formed)
    fastdet_detections_per_image{model, version}        boxes returned per image
    fastdet_confidence{model, version}                  score of every returned box
    fastdet_images_total{model, version, status}        images answered, by status (200, 400, 413, ...)
    fastdet_requests_total{client, model, version, route, status}   router requests
    fastdet_request_seconds{model, route}               router latency, request in to response out
    fastdet_shadow_agreement{model, champion, challenger}  box agreement of challenger with champion
    fastdet_shadow_total{model, result}                 shadow runs: compared, failed, skipped (too many in flight)
    fastdet_drift_*                                     the drift Monitor's gauges, when a profile is set

MLServer's ``mlserver.register``/``mlserver.log`` make histograms with fixed buckets and only the
model name and version as labels, and keep them in a registry its /metrics endpoint serves only
when parallel workers are on. These metrics need their own buckets and labels (client, route,
status), so they live in prometheus-client's default registry, which /metrics serves in both modes
(with parallel workers MLServer switches prometheus-client to its multiprocess mode before any
model loads, so every worker's values are summed).
"""

from __future__ import annotations

import threading
from typing import Any

_LOCK = threading.Lock()
_METRICS: dict[str, Any] = {}

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _create() -> dict[str, Any]:
    import prometheus_client as pc

    return {
        "stage": pc.Histogram("fastdet_stage_seconds", "time per stage of an inference call",
                              ["model", "version", "stage"], buckets=LATENCY_BUCKETS),
        "batch": pc.Histogram("fastdet_batch_images", "images per inference call", ["model"],
                              buckets=(1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64)),
        "per_image": pc.Histogram("fastdet_detections_per_image", "boxes returned per image", ["model", "version"],
                                  buckets=(0, 1, 2, 3, 5, 10, 20, 50, 100, 300, 1000)),
        "confidence": pc.Histogram("fastdet_confidence", "score of each returned box", ["model", "version"],
                                   buckets=tuple(round(0.1 * i, 1) for i in range(1, 11))),
        "images": pc.Counter("fastdet_images", "images answered by the detector model", ["model", "version", "status"]),
        "requests": pc.Counter("fastdet_requests", "router requests", ["client", "model", "version", "route", "status"]),
        "latency": pc.Histogram("fastdet_request_seconds", "router latency", ["model", "route"],
                                buckets=LATENCY_BUCKETS),
        "agreement": pc.Histogram("fastdet_shadow_agreement", "box agreement of the challenger with the champion",
                                  ["model", "champion", "challenger"],
                                  buckets=(0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 1.0)),
        "shadow": pc.Counter("fastdet_shadow", "shadow runs", ["model", "result"]),
    }


def get() -> dict[str, Any]:
    """The metric objects, created once per process (on first use, after MLServer chose the
    multiprocess mode or not)."""
    with _LOCK:
        if not _METRICS:
            _METRICS.update(_create())
        return _METRICS


def observe_images(model: str, version: str, scores_per_image: list[Any]) -> None:
    """Counts per image and the score of each box (a handful of boxes per image: observing them one
    by one costs microseconds)."""
    m = get()
    per_image = m["per_image"].labels(model, version)
    confidence = m["confidence"].labels(model, version)
    for scores in scores_per_image:
        per_image.observe(len(scores))
        for s in scores.tolist():
            confidence.observe(s)
