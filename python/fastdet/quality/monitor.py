"""``fastdet.Monitor``: drift signals of a deployed detector, compared in rolling windows with a
reference profile of its validation data.

    monitor = fastdet.Monitor("ref.json", on_alert=print)     # made by `fastdet profile DATA -o ref.json`
    dets = det.detect(frame); monitor.observe(frame, dets)    # or: watched = monitor.watch(det)

Every ``check_every`` frames, once ``min_frames`` are in the window, each signal of the last
``window`` frames is compared with the reference by PSI and a two-sample KS test; a signal
drifts when its PSI exceeds its threshold, the KS p-value is below its own, and its mean moved by
at least the signal's smallest change worth an alarm (PSI sizes the shift in distribution, KS
says it is not chance, the change says it matters). An alert fires when a signal starts drifting (not again
while it stays drifted), goes to ``on_alert``, to the ``fastdet.monitor`` log, and to Prometheus
gauges when prometheus-client is installed. Two resolution alerts need no window: a frame size the
reference never had ("new_resolution") and one far from the model's training size
("resolution_far_from_training": a low-resolution camera feeding a model trained on HD frames,
or the reverse).

Consecutive video frames are strongly correlated, so the KS p-value of a 300-frame window is
far smaller than the same test on independent images would give; the PSI threshold carries the
decision with the change of the mean, and the false-alarm rate is measured, not derived
(``bench/drift.py``; README: drift monitoring).
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..errors import InputError
from . import monitor_metrics
from .drift_profile import Profile
from .drift_signals import BOX_SIGNALS, FRAME_SIGNALS, SIGNALS, FrameSignals, frame_signals
from .drift_stats import Distance, distance

log = logging.getLogger("fastdet.monitor")


@dataclass(frozen=True)
class Threshold:
    """A signal drifts when PSI > psi, the KS p-value < p_value, and the window's mean moved from
    the reference's by at least min_change (in the signal's units, or as a fraction of the
    reference mean when ``relative``): the smallest change worth an alarm. Without it a fixed
    camera's narrow brightness distribution makes a one-grey-level change a "shift" by PSI."""

    min_change: float
    relative: bool = False
    psi: float = 0.25
    p_value: float = 1e-3

    def changed(self, window_mean: float, reference_mean: float) -> float:
        """The change of the mean in this threshold's terms (absolute, or relative)."""
        diff = abs(window_mean - reference_mean)
        return diff / max(abs(reference_mean), 1e-9) if self.relative else diff


#: Default thresholds: the smallest change of each signal's mean worth an alarm. Image statistics
#: in their units (brightness in grey levels), counts and sizes relative to the reference, since
#: scene content (people walking closer, a crowd passing) moves them by tens of percent.
DEFAULT_THRESHOLDS: dict[str, Threshold] = {
    "brightness": Threshold(15.0),
    "contrast": Threshold(0.25, relative=True),
    "sharpness": Threshold(0.5, relative=True),
    "detections": Threshold(0.5, relative=True),
    "persons": Threshold(0.5, relative=True),
    "no_person": Threshold(0.2),
    "confidence": Threshold(0.05),
    "box_size": Threshold(0.35, relative=True),
}


@dataclass(frozen=True)
class Alert:
    """signal: the signal (or "resolution"); kind: "drift", "new_resolution" or
    "resolution_far_from_training"; frame: frames observed when it fired; distance: PSI/KS for a
    drift alert; message: one line for a person."""

    signal: str
    kind: str
    frame: int
    message: str
    distance: Distance | None = None


#: Alerts a Monitor keeps (``alerts``); older ones are counted in ``alerts_total`` only.
MAX_ALERTS = 1000
#: Distinct frame sizes a Monitor remembers; a stream changing size more often than that is
#: reported once and its later new sizes are not alerted on (memory stays bounded).
MAX_RESOLUTIONS = 256


@dataclass
class _State:
    drifting: set[str] = field(default_factory=set)
    resolutions: set[tuple[int, int]] = field(default_factory=set)
    last: dict[str, Distance] = field(default_factory=dict)


class Monitor:
    """Drift monitor of one camera or stream (one per stream: windows are per Monitor).

    reference: a Profile or the path of one. window: frames compared (default 300). check_every:
    frames between comparisons (default 30). min_frames: frames needed before the first
    comparison (default ``window``). thresholds: per-signal Threshold overrides (None turns a signal
    off). resolution_range: (low, high) ratios of the frame's long side to the training input's
    long side outside which "resolution_far_from_training" fires (default (0.5, 3.0)).
    training_size: (height, width) the model was trained at (default: the profile's model input).
    on_alert: called with each Alert. metrics: export Prometheus gauges (None: when
    prometheus-client is installed); registry: its CollectorRegistry (default the global one);
    name: the ``monitor`` label.
    """

    def __init__(self, reference: Profile | str | os.PathLike[str], *, window: int = 300, check_every: int = 30,
                 min_frames: int | None = None, thresholds: dict[str, Threshold | None] | None = None,
                 resolution_range: tuple[float, float] = (0.5, 3.0), training_size: tuple[int, int] | None = None,
                 on_alert: Callable[[Alert], Any] | None = None, metrics: bool | None = None, registry: Any = None,
                 name: str = "default") -> None:
        self.reference = reference if isinstance(reference, Profile) else Profile.load(reference)
        for label, value in (("window", window), ("check_every", check_every)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InputError(f"{label}: expected a whole number of frames >= 1, got {value!r}")
        self.window = window
        self.check_every = check_every
        self.min_frames = window if min_frames is None else min_frames
        if not 1 <= self.min_frames <= window:
            raise InputError(f"min_frames: expected 1 to window ({window}), got {min_frames}")
        merged: dict[str, Threshold | None] = {**DEFAULT_THRESHOLDS, **(thresholds or {})}
        unknown = set(merged) - set(SIGNALS)
        if unknown:
            raise InputError(f"thresholds: unknown signals {sorted(unknown)}; expected some of {list(SIGNALS)}")
        self.thresholds = {k: v for k, v in merged.items() if v is not None}
        self.resolution_range = resolution_range
        self.training_size = tuple(training_size or self.reference.input_size)
        self.on_alert = on_alert
        self.name = name
        use_metrics = monitor_metrics.installed() if metrics is None else metrics
        self._metrics = monitor_metrics.gauges(registry) if use_metrics else None
        self._frames: deque[FrameSignals] = deque(maxlen=window)
        self._state = _State(resolutions=set(map(tuple, self.reference.resolutions)))
        self.frames = 0
        #: The last MAX_ALERTS alerts (alerts_total counts them all).
        self.alerts: deque[Alert] = deque(maxlen=MAX_ALERTS)
        self.alerts_total = 0
        # observe() may be called from several threads (a shared Detector's callers): the window,
        # the counters and the drift state change under this lock; the per-frame image work does not.
        self._lock = threading.RLock()

    # -- feeding -----------------------------------------------------------------------------------

    def observe(self, frame: np.ndarray, detections: Any) -> list[Alert]:
        """Adds one frame (uint8[H, W, 3] BGR) and its Detections; returns the alerts it raised.
        Detections below the profile's score threshold are left out, so a detector run at a lower
        threshold still compares like with like."""
        if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] not in (3, 4):
            raise InputError(f"frame: expected uint8[H, W, 3] BGR, got "
                             f"{getattr(frame, 'dtype', type(frame).__name__)} {getattr(frame, 'shape', '')}")
        keep = detections.scores > self.reference.conf
        fs = frame_signals(frame[:, :, :3] if frame.shape[2] == 4 else frame, detections.xyxy[keep],
                           detections.scores[keep], detections.class_ids[keep], self.reference.person_class)
        with self._lock:
            self.frames += 1
            self._frames.append(fs)
            if self._metrics:
                self._metrics["frames"].labels(self.name).inc()
            raised = self._check_resolution(fs.shape)
            if len(self._frames) >= self.min_frames and self.frames % self.check_every == 0:
                raised += self.check()
            return raised

    def watch(self, detector: Any) -> WatchedDetector:
        """A wrapper whose ``detect(frame, ...)`` detects with ``detector`` and observes the result."""
        return WatchedDetector(detector, self)

    # -- comparing ---------------------------------------------------------------------------------

    def window_values(self) -> dict[str, np.ndarray]:
        """Each signal's values in the current window: float64[frames] or float64[boxes]."""
        with self._lock:
            frames = list(self._frames)
        out = {s: np.array([f.scalars[s] for f in frames], np.float64) for s in FRAME_SIGNALS}
        for s in BOX_SIGNALS:
            parts = [f.boxes[s] for f in frames]
            out[s] = np.concatenate(parts) if parts else np.zeros(0)
        return out

    def check(self) -> list[Alert]:
        """Compares the window with the reference now; returns the alerts raised."""
        with self._lock:
            return self._check()

    def _check(self) -> list[Alert]:
        raised = []
        values = self.window_values()
        ref = self.reference
        for s, t in self.thresholds.items():
            d = distance(values[s], ref.samples[s], ref.shares[s], ref.edges[s])
            self._state.last[s] = d
            window_mean = float(values[s].mean()) if len(values[s]) else float("nan")
            ref_mean = float(ref.samples[s].mean()) if len(ref.samples[s]) else float("nan")
            change = t.changed(window_mean, ref_mean) if len(values[s]) and len(ref.samples[s]) else 0.0
            drifting = d.psi > t.psi and d.p_value < t.p_value and change >= t.min_change
            if self._metrics:
                self._metrics["psi"].labels(self.name, s).set(d.psi)
                self._metrics["ks"].labels(self.name, s).set(d.ks)
                self._metrics["alert"].labels(self.name, s).set(int(drifting))
            if drifting and s not in self._state.drifting:
                self._state.drifting.add(s)
                raised.append(self._raise(Alert(
                    s, "drift", self.frames,
                    f"{s} drifted: PSI {d.psi:.3f} > {t.psi:g}, KS {d.ks:.3f} (p {d.p_value:.2g}); window mean "
                    f"{window_mean:.3g} vs reference {ref_mean:.3g} over the last {len(self._frames)} frames", d)))
            elif not drifting and s in self._state.drifting:
                self._state.drifting.discard(s)
                log.info("%s: %s back within its reference (PSI %.3f)", self.name, s, d.psi)
        return raised

    def _check_resolution(self, shape: tuple[int, int]) -> list[Alert]:
        if shape in self._state.resolutions:
            return []
        if len(self._state.resolutions) >= MAX_RESOLUTIONS:
            if len(self._state.resolutions) == MAX_RESOLUTIONS:
                self._state.resolutions.add((-1, -1))  # marks "reported": once only
                return [self._raise(Alert("resolution", "new_resolution", self.frames,
                                          f"more than {MAX_RESOLUTIONS} frame sizes seen: new sizes are no longer "
                                          f"reported one by one"))]
            return []
        self._state.resolutions.add(shape)
        h, w = shape
        raised = [self._raise(Alert("resolution", "new_resolution", self.frames,
                                    f"frame size {w}x{h} was never seen in the reference "
                                    f"({', '.join(f'{rw}x{rh}' for rh, rw in self.reference.resolutions[:4])})"))]
        ratio = max(h, w) / max(self.training_size)
        low, high = self.resolution_range
        if not low <= ratio <= high:
            th, tw = self.training_size
            raised.append(self._raise(Alert(
                "resolution", "resolution_far_from_training", self.frames,
                f"frame size {w}x{h} is {ratio:.2f}x the model's training size {tw}x{th} (expected {low:g}-{high:g}x): "
                f"objects reach the network at a scale it has not learned")))
        return raised

    def _raise(self, alert: Alert) -> Alert:
        self.alerts.append(alert)
        self.alerts_total += 1
        log.warning("%s: %s", self.name, alert.message)
        if self._metrics:
            self._metrics["alerts"].labels(self.name, alert.signal).inc()
        if self.on_alert is not None:
            self.on_alert(alert)
        return alert

    @property
    def drifting(self) -> set[str]:
        """Signals drifting at the last check."""
        with self._lock:
            return set(self._state.drifting)

    def status(self) -> dict[str, Distance]:
        """Each signal's distance at the last check."""
        with self._lock:
            return dict(self._state.last)


class WatchedDetector:
    """A Detector whose single-frame ``detect`` calls also feed a Monitor."""

    def __init__(self, detector: Any, monitor: Monitor) -> None:
        self.detector = detector
        self.monitor = monitor

    def detect(self, frame: np.ndarray, **options: Any) -> Any:
        """frame: uint8[H, W, 3] BGR; options as ``Detector.detect``."""
        dets = self.detector.detect(frame, **options)
        self.monitor.observe(frame, dets)
        return dets

    __call__ = detect

    def __getattr__(self, name: str) -> Any:
        return getattr(self.detector, name)
