"""A seeded random fuzzer over the public entry points (wrong dtypes, shapes, strides, NaN/inf,
huge values): every call either raises a fastdet error or returns a result within its contract.
The coverage-guided fuzzer (atheris) runs the same cases from tests/fuzz/."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import fastdet
from tiny_models import yolov8_like

sys.path.insert(0, str(Path(__file__).resolve().parent / "fuzz"))
import cases  # noqa: E402


@pytest.mark.parametrize("name", sorted(cases.ENTRY_POINTS))
def test_entry_point_survives_random_calls(name):
    call = cases.ENTRY_POINTS[name]
    with np.errstate(all="ignore"):
        for seed in range(1500):
            call(cases.Source(seed))


def test_detect_survives_random_frames(tmp_path):
    boxes = np.array([[20, 20, 16, 16], [21, 21, 16, 16], [40, 40, -8, 8]], np.float32)
    weights = np.array([[0.9, 0.8, 0.9], [0.0, 0.0, 0.7]], np.float32)
    det = fastdet.Detector(yolov8_like(tmp_path / "m.onnx", boxes, weights, metadata={"names": "{0: 'a', 1: 'b'}"}),
                           conf=0.1)
    for seed in range(300):
        cases.call_detect(cases.Source(seed), det)
