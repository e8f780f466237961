"""Prometheus gauges of a drift Monitor (when prometheus-client is installed):

    fastdet_drift_psi{monitor, signal}          PSI of the last window against the reference
    fastdet_drift_ks{monitor, signal}           KS statistic of the last window
    fastdet_drift_alert{monitor, signal}        1 while the signal is drifting, else 0
    fastdet_drift_alerts_total{monitor, signal} alerts raised (signal "resolution" included)
    fastdet_monitor_frames_total{monitor}       frames observed
"""

from __future__ import annotations

from typing import Any

_BY_REGISTRY: dict[int, dict[str, Any]] = {}


def installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("prometheus_client") is not None


def gauges(registry: Any = None) -> dict[str, Any]:
    """The metric objects in ``registry`` (default: prometheus_client's global one), created once
    per registry, so several Monitors (told apart by the ``monitor`` label) share them."""
    import prometheus_client as pc

    registry = registry if registry is not None else pc.REGISTRY
    key = id(registry)
    if key not in _BY_REGISTRY:
        kw = {"registry": registry}
        _BY_REGISTRY[key] = {
            "psi": pc.Gauge("fastdet_drift_psi", "PSI of the window against the reference", ["monitor", "signal"], **kw),
            "ks": pc.Gauge("fastdet_drift_ks", "KS statistic of the window against the reference",
                           ["monitor", "signal"], **kw),
            "alert": pc.Gauge("fastdet_drift_alert", "1 while the signal drifts", ["monitor", "signal"], **kw),
            "alerts": pc.Counter("fastdet_drift_alerts", "drift alerts raised", ["monitor", "signal"], **kw),
            "frames": pc.Counter("fastdet_monitor_frames", "frames observed", ["monitor"], **kw),
        }
    return _BY_REGISTRY[key]
