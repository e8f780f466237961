"""The hand-written OpenVINO pipeline fastdet's OpenVINO backend is measured against: what a careful
user writes without fastdet (``letterbox_reference`` with OpenCV, ``InferRequest.infer`` on the
stacked input, ``decode_reference`` with numpy and ``cv2.dnn.NMSBoxesBatched``), compiled with the
same OpenVINO settings as fastdet's single-frame path (LATENCY hint, same threads and precision),
so a ratio against it measures fastdet's pre/post and buffer handling, not OpenVINO."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .references import ReferencePipeline


class OpenVINOReferencePipeline(ReferencePipeline):
    """Input: a list of uint8[H, W, 3] BGR frames; output per frame (xyxy float32[K, 4], scores,
    class ids). ``timings`` holds the nanoseconds per stage of the last call, as
    ``Detector.timings`` does. A fixed-batch model runs one request per frame. The same letterbox,
    decode and timing loop as ``ReferencePipeline``; only inference differs."""

    def __init__(self, model: str | Path, conf: float = 0.25, iou: float = 0.7, max_det: int = 300,
                 threads: int | None = None, precision: str = "auto") -> None:
        import openvino as ov

        from fastdet.backends.openvino import compile_config

        core = ov.Core()
        compiled = core.compile_model(str(model), "CPU", compile_config("latency", threads, precision, None))
        self.request = compiled.create_infer_request()
        shape = compiled.input(0).get_partial_shape()
        self.size = shape[2].get_length() if shape[2].is_static else 640
        self.static_batch = shape[0].get_length() if shape[0].is_static else None
        self.conf, self.iou, self.max_det = conf, iou, max_det
        self.timings: dict[str, int] = {}

    def _infer(self, x: np.ndarray) -> np.ndarray:
        self.request.infer({0: x})
        return self.request.get_output_tensor(0).data
