"""End-to-end on the CPU: Detector.detect vs a hand-written onnxruntime + OpenCV pipeline
(bench.references.ReferencePipeline) on the same model with the same session options.

Each benchmark records its per-stage medians (preprocess, inference, postprocess) and the
per-frame overhead (wall - inference) in extra_info; the summary compares overheads. Models:
yolov8n_w8.onnx (real weights, batch 1), yolov8n_random_dynamic.onnx (batch 1 and 8 in one
inference) from the shared assets, and the synthetic tiny model (always available, cheap
inference, so the overhead dominates).
"""

from __future__ import annotations

import time

import pytest

from fastdet import Detector
from bench.references import ReferencePipeline

from .conftest import asset, stage_medians_ms, stage_recorder

MODELS = ["synthetic", "yolov8n_w8.onnx", "yolov8n_random_dynamic.onnx"]


@pytest.mark.parametrize("impl", ["fastdet", "onnxruntime+opencv"])
@pytest.mark.parametrize("batch", [1, 8])
@pytest.mark.parametrize("frame_name", ["1080p", "bus.jpg"])
@pytest.mark.parametrize("model_name", MODELS)
def test_end_to_end(benchmark, frames, synthetic_model, model_name: str, frame_name: str, batch: int,
                    impl: str) -> None:
    if batch > 1 and model_name != "yolov8n_random_dynamic.onnx":
        pytest.skip("batch 8 runs on the dynamic-batch model only (static models would just loop)")
    model = synthetic_model if model_name == "synthetic" else asset("models", model_name)
    inputs = [frames[frame_name]()] * batch
    runner = Detector(model, backend="onnxruntime-cpu") if impl == "fastdet" else ReferencePipeline(model)
    call = (lambda: runner.detect(inputs)) if impl == "fastdet" else (lambda: runner(inputs))
    samples, record = stage_recorder(lambda: runner.timings)
    walls: list[int] = []

    def timed() -> None:
        t0 = time.perf_counter_ns()
        call()
        walls.append(time.perf_counter_ns() - t0)
        record()

    benchmark.group = f"end-to-end {model_name} {frame_name} B={batch}"
    benchmark.extra_info["impl"] = impl
    rounds = 30 if model_name == "synthetic" else 5
    benchmark.pedantic(timed, rounds=rounds, iterations=1, warmup_rounds=2)
    walls, samples = walls[2:], {k: v[2:] for k, v in samples.items()}  # drop warm-up
    stages = stage_medians_ms(samples)
    overhead = sorted(w - i for w, i in zip(walls, samples["inference"]))[len(walls) // 2] / 1e6
    benchmark.extra_info.update(stages_ms=stages, overhead_ms=overhead / batch, batch=batch)
