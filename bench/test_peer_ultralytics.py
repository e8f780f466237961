"""Optional peer comparison: ultralytics' predictor on the same ONNX file and image, its own
preprocess / inference / postprocess times beside fastdet's Detector.timings. Runs only where
``import ultralytics`` works (never required, never in CI)."""

from __future__ import annotations

import statistics

import pytest

from fastdet import Detector

from .conftest import asset


@pytest.mark.parametrize("impl", ["fastdet", "ultralytics"])
def test_peer_ultralytics(benchmark, frames, impl: str) -> None:
    ultralytics = pytest.importorskip("ultralytics", reason="optional peer comparison")
    model = asset("models", "yolov8n_w8.onnx")
    frame = frames["bus.jpg"]()
    benchmark.group = "peer: yolov8n_w8.onnx bus.jpg"
    benchmark.extra_info["impl"] = impl
    stages: dict[str, list[float]] = {}
    if impl == "fastdet":
        det = Detector(model, backend="onnxruntime-cpu")

        def call() -> None:
            det.detect(frame)
            for k, v in det.timings.items():
                stages.setdefault(k, []).append(v / 1e6)
    else:
        yolo = ultralytics.YOLO(str(model), task="detect")

        def call() -> None:
            r = yolo.predict(frame, imgsz=640, device="cpu", verbose=False)[0]
            for k, v in r.speed.items():  # milliseconds
                stages.setdefault(k, []).append(float(v))

    benchmark.pedantic(call, rounds=10, iterations=1, warmup_rounds=2)
    benchmark.extra_info["stages_ms"] = {k: statistics.median(v[2:]) for k, v in stages.items()}
