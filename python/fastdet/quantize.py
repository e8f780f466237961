"""Post-training int8 quantization with NNCF, calibrated through fastdet's own letterbox.

    fastdet quantize MODEL --data DIR_OR_SPLIT [--samples 300] --out OUT

Reads MODEL (ONNX, IR or export folder), runs NNCF's static post-training quantization (MIXED
preset: symmetric int8 weights, asymmetric activations) on up to ``samples`` real images, each
preprocessed by ``fastdet.letterbox`` with the model's own recipe (exactly what serving feeds
it), and writes ``OUT/model.xml`` + ``model.bin`` + ``metadata.yaml``: an OpenVINO IR that
``Detector(OUT)`` loads with its class names.

Kept in float (the ``head_tail`` scope): every operation after the last convolution of each head
branch, found from the graph, not from layer names: the box distribution (DFL) softmax and its
expectation convolution, the anchor/stride box arithmetic, the class sigmoid and the concats
around them. This is the scope ultralytics' int8 OpenVINO export keeps in float (it names the
head's Add/Sub/Mul/Div, its ``dfl`` and all Sigmoids). Box coordinates in pixels and scores near
the threshold are where 8-bit steps would cost accuracy; the convolutions, where the compute is,
are all int8.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Iterable

from .model import ModelError, ModelInfo

log = logging.getLogger("fastdet")

PRESETS = ("mixed", "performance")


def nncf_unavailable_reason() -> str | None:
    import importlib.util

    for module in ("nncf", "openvino"):
        try:
            found = importlib.util.find_spec(module) is not None
        except (ValueError, ImportError):
            found = False
        if not found:
            return f"{module} is not installed (pip install 'fastdet[quantize]')"
    return None


def head_tail(model: Any) -> list[str]:
    """Friendly names of the operations between the last convolutions of the head and the output
    (see the module docstring), in graph order. A Convolution fed by a Softmax (the DFL's fixed
    expectation) belongs to the tail; any other Convolution ends the walk."""
    tail: dict[str, Any] = {}
    stack = [r.input_value(0).get_node() for r in model.get_results()]
    while stack:
        node = stack.pop()
        kind = node.get_type_name()
        if kind in ("Constant", "Parameter") or node.get_friendly_name() in tail:
            continue
        if kind == "Convolution":
            if node.input_value(0).get_node().get_type_name() != "Softmax":
                continue
        tail[node.get_friendly_name()] = node
        stack += [v.get_node() for v in node.input_values()]
    order = {op.get_friendly_name(): i for i, op in enumerate(model.get_ordered_ops())}
    return sorted(tail, key=order.__getitem__)


def calibration_frames(images: list[Path], info: ModelInfo) -> Iterable[Any]:
    """float32[1, 3, H, W] per image: the image read and letterboxed as serving does."""
    from .frames import read_image
    from .preprocess import letterbox

    for path in images:
        x, _ = letterbox(read_image(path), info.input_hw, recipe=info.recipe)
        yield x[None]


class _Frames:
    """A re-iterable calibration set (NNCF walks it once per statistics pass)."""

    def __init__(self, images: list[Path], info: ModelInfo) -> None:
        self.images, self.info = images, info

    def __iter__(self):
        return iter(calibration_frames(self.images, self.info))

    def __len__(self) -> int:
        return len(self.images)


def _float_model(core: Any, path: Path, source: str) -> Any:
    """The float model for NNCF: ONNX through ``convert_model`` (which fuses SiLU into Swish and
    folds the bias broadcasts, a cleaner graph to place quantizers in), IR as read."""
    import openvino as ov

    if source != "onnx":
        return None
    try:
        return ov.convert_model(str(path))
    except Exception as e:  # OpenVINO's conversion errors have several types
        raise ModelError(f"{path.name}: OpenVINO cannot convert it: {e}") from None


def quantize(model: str | os.PathLike[str], data: str | os.PathLike[str], out: str | os.PathLike[str], *,
             samples: int = 300, preset: str = "mixed", keep_head_float: bool = True) -> Path:
    """Writes an int8 OpenVINO IR of ``model`` to the folder ``out``; returns its ``.xml``.

    data: folder of images or split file (.txt); the first ``samples`` images calibrate.
    preset: NNCF's "mixed" (default; asymmetric activations) or "performance" (symmetric).
    keep_head_float: False quantizes the head tail too (for comparison: less accurate).
    """
    reason = nncf_unavailable_reason()
    if reason:
        raise ImportError(f"fastdet quantize needs NNCF: {reason}")
    if preset not in PRESETS:
        raise ValueError(f"preset: expected one of {PRESETS}, got {preset!r}")
    if samples < 1:
        raise ValueError(f"samples: expected at least 1, got {samples}")
    import nncf

    from .backends.openvino_core import shared_core
    from .backends.openvino_model import read, write_ir
    from .quality.yolo_data import list_images

    path = Path(model)
    images = list_images(data)[:samples]
    if len(images) < samples:
        log.warning("quantize: %d calibration images (asked for %d)", len(images), samples)
    loaded = read(shared_core(), path)
    info = loaded.info
    float_model = _float_model(shared_core(), path, loaded.source) or loaded.model
    if loaded.source == "onnx":
        h, w = info.input_hw
        batch = info.input_shape[0] or -1
        float_model.reshape({float_model.inputs[0].get_any_name(): [batch, 3, h, w]})
    if not log.isEnabledFor(logging.DEBUG):
        nncf.set_log_level(logging.WARNING)  # NNCF lists every quantizer it places at INFO
    scope = head_tail(float_model) if keep_head_float else []
    log.info("quantize: %d images, %d ops kept in float: %s", len(images), len(scope), ", ".join(scope))
    ignored = nncf.IgnoredScope(names=scope) if scope else None
    quantized = nncf.quantize(
        float_model,
        nncf.Dataset(_Frames(images, info)),
        preset=nncf.QuantizationPreset.MIXED if preset == "mixed" else nncf.QuantizationPreset.PERFORMANCE,
        subset_size=len(images),
        ignored_scope=ignored,
    )
    metadata = dict(info.metadata)
    metadata.update(names=repr(info.names), imgsz=repr(list(info.input_hw)), task="detect",
                    quantization=f"int8 (NNCF {nncf.__version__}, {preset} preset, {len(images)} calibration images, "
                                 f"{'head tail kept in float' if keep_head_float else 'whole model'})")
    return write_ir(quantized, Path(out), metadata)
