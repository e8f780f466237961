"""The reference profile a Monitor compares live frames with: each signal's reference samples
and PSI bins, the resolutions seen, the model's input size, and the detector threshold the
signals were taken at. Built from validation images or video (``fastdet profile DATA -o
ref.json``), stored as JSON."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from ..errors import InputError
from .drift_signals import BOX_SIGNALS, FRAME_SIGNALS, SIGNALS, FrameSignals, frame_signals
from .drift_stats import bin_edges, shares

FORMAT = "fastdet-drift-profile/1"
#: Reference samples kept per signal (KS's resolution; more adds little and grows the file).
MAX_SAMPLES = 5000


@dataclass
class Profile:
    """samples: signal -> float64[K] reference values; edges / shares: signal -> PSI bins;
    resolutions: (height, width) seen; input_size: the model's (height, width); conf: the score
    threshold detections were kept at; person_class: id of "person" or None; frames: how many."""

    samples: dict[str, np.ndarray]
    resolutions: list[tuple[int, int]]
    input_size: tuple[int, int]
    conf: float
    person_class: int | None
    frames: int
    model_sha256: str = ""
    source: str = ""
    edges: dict[str, np.ndarray] = field(default_factory=dict)
    shares: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for s in SIGNALS:
            self.samples.setdefault(s, np.zeros(0))
            self.edges[s] = bin_edges(self.samples[s])
            self.shares[s] = shares(self.samples[s], self.edges[s])

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT, "frames": self.frames, "conf": self.conf, "person_class": self.person_class,
                           "input_size": list(self.input_size), "resolutions": [list(r) for r in self.resolutions],
                           "model_sha256": self.model_sha256, "source": self.source,
                           "samples": {k: v.tolist() for k, v in self.samples.items()}})

    def save(self, path: str | os.PathLike[str]) -> Path:
        p = Path(path)
        p.write_text(self.to_json() + "\n")
        return p

    @staticmethod
    def load(path: str | os.PathLike[str]) -> Profile:
        p = Path(path).expanduser()
        try:
            data = json.loads(p.read_text())
        except FileNotFoundError:
            raise InputError(f"profile: no such file: {str(p)!r} (make one with `fastdet profile DATA -o {p.name}`)") from None
        except json.JSONDecodeError as e:
            raise InputError(f"profile: {str(p)!r} is not valid JSON ({e})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise InputError(f"profile: {str(p)!r} is not a fastdet drift profile ({FORMAT})")
        return Profile({k: np.asarray(v, np.float64) for k, v in data["samples"].items()},
                       [tuple(r) for r in data["resolutions"]], tuple(data["input_size"]), float(data["conf"]),
                       data["person_class"], int(data["frames"]), data.get("model_sha256", ""), data.get("source", ""))


def _thin(values: np.ndarray, n: int = MAX_SAMPLES) -> np.ndarray:
    """At most ``n`` values, evenly spaced through the sequence (deterministic)."""
    if len(values) <= n:
        return values
    return values[np.linspace(0, len(values) - 1, n).round().astype(int)]


def profile_from_signals(signals: Iterable[FrameSignals], *, input_size: tuple[int, int], conf: float,
                         person_class: int | None, model_sha256: str = "", source: str = "") -> Profile:
    """A profile of already computed frame signals."""
    scalars: dict[str, list[float]] = {s: [] for s in FRAME_SIGNALS}
    boxes: dict[str, list[np.ndarray]] = {s: [] for s in BOX_SIGNALS}
    resolutions: set[tuple[int, int]] = set()
    n = 0
    for fs in signals:
        n += 1
        resolutions.add(fs.shape)
        for s in FRAME_SIGNALS:
            scalars[s].append(fs.scalars[s])
        for s in BOX_SIGNALS:
            boxes[s].append(fs.boxes[s])
    if not n:
        raise InputError("profile: no frames to build a reference from")
    samples = {s: _thin(np.asarray(v, np.float64)) for s, v in scalars.items()}
    samples.update({s: _thin(np.concatenate(v) if v else np.zeros(0)) for s, v in boxes.items()})
    return Profile(samples, sorted(resolutions), input_size, conf, person_class, n, model_sha256, source)


def build_profile(detector: Any, frames: Iterable[np.ndarray], *, source: str = "") -> Profile:
    """Runs ``detector`` on ``frames`` (uint8[H, W, 3] BGR each) and profiles the signals at the
    detector's own score threshold."""
    from .eval_report import person_class
    from .hashing import model_sha256

    person = person_class(detector.names)
    conf = float(detector.options.conf)

    def signals() -> Iterable[FrameSignals]:
        for frame in frames:
            d = detector.detect(frame)
            yield frame_signals(frame, d.xyxy, d.scores, d.class_ids, person)

    return profile_from_signals(signals(), input_size=tuple(detector.input_size), conf=conf, person_class=person,
                                model_sha256=model_sha256(detector.info.path), source=source)
