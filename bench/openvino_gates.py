"""Gate kinds for the OpenVINO CPU path (registered into ``bench.gate.KINDS``).

- ``openvino_end_to_end``: ``Detector.detect`` with ``backend="auto"`` (OpenVINO here) on a 1080p
  frame and the synthetic conv detector (``convnet.convnet_model``: real convolutions, no asset),
  against ``reference = "openvino"`` (the hand-written OpenVINO pipeline, same compile settings) or
  ``reference = "onnxruntime"`` (fastdet's own ONNX Runtime path).
- ``openvino_overhead``: per-frame overhead (wall - inference) of the Detector on OpenVINO vs the
  hand-written OpenVINO pipeline, on the cheap synthetic model so the overhead is not drowned.

Each skips (with the reason) where openvino or onnx is missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

Sample = Callable[[], int]


def _require() -> None:
    from .gate import Skip

    for module, hint in (("openvino", "pip install 'fastdet[cpu]'"), ("onnx", "pip install onnx")):
        try:
            __import__(module)
        except ImportError:
            raise Skip(f"needs {module} ({hint})") from None


def _frame(spec: dict[str, Any]):
    from . import synthetic

    w, h = synthetic.parse_size(str(spec.get("frame", "1920x1080")))
    return synthetic.frame(w, h)


def _auto_detector(model: Path):
    from fastdet.detector import Detector
    from .gate import Skip

    det = Detector(model, backend="auto", device="cpu")
    if det.backend != "openvino-cpu":
        raise Skip(f"backend='auto' took {det.backend}, not openvino-cpu")
    return det


def end_to_end_pair(spec: dict[str, Any], delay_ns: int, workdir: Path) -> tuple[Sample, Sample]:
    """Wall time per frame: fastdet (auto -> OpenVINO) vs the reference named in the spec."""
    _require()
    from fastdet.detector import Detector
    from .convnet import convnet_model
    from .gate import GateFileError, timed
    from .reference_openvino import OpenVINOReferencePipeline

    model = workdir / "convnet.onnx"
    if not model.is_file():
        convnet_model(model, candidates=int(spec.get("candidates", 150)))
    frame = _frame(spec)
    det = _auto_detector(model)
    reference = str(spec.get("reference", "openvino"))
    if reference == "openvino":
        ref = OpenVINOReferencePipeline(model)
        ref_call = lambda: ref([frame])  # noqa: E731
    elif reference == "onnxruntime":
        ort = Detector(model, backend="onnxruntime-cpu")
        ref_call = lambda: ort.detect(frame)  # noqa: E731
    else:
        raise GateFileError(f"gate {spec['name']!r}: reference must be 'openvino' or 'onnxruntime', got {reference!r}")
    return timed(lambda: det.detect(frame), delay_ns), timed(ref_call)


def overhead_pair(spec: dict[str, Any], delay_ns: int, workdir: Path) -> tuple[Sample, Sample]:
    """Wall - inference per frame: fastdet on OpenVINO vs the hand-written OpenVINO pipeline."""
    _require()
    from . import synthetic
    from .gate import overhead_samples
    from .reference_openvino import OpenVINOReferencePipeline

    model = synthetic.tiny_model(workdir / "tiny.onnx", candidates=int(spec.get("candidates", 150)))
    return overhead_samples(_auto_detector(model), OpenVINOReferencePipeline(model), _frame(spec), delay_ns)


KINDS = {"openvino_end_to_end": end_to_end_pair, "openvino_overhead": overhead_pair}
