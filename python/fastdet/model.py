"""Model loading: an ONNX file's input, output, head format, class names and recipe."""

from __future__ import annotations

import ast
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from . import _core, default_model, heads, recipes

log = logging.getLogger("fastdet")

HOW_TO_GET_A_MODEL = (
    "pass model='path/to/model.onnx' or set FASTDET_MODEL (or neither, for the embedded default model). "
    "To get an ONNX detector, export one, e.g. `pip install ultralytics && yolo export model=yolo11n.pt "
    "format=onnx` (writes yolo11n.onnx); `fastdet models` says more."
)


class ModelError(ValueError):
    """An ONNX file fastdet cannot use: missing, corrupt, or not a detector it can decode."""


@dataclass
class ModelInfo:
    """What fastdet needs to know about a detector.

    input_shape: (batch or None when dynamic, 3, height, width).
    output_shape: (batch or None, ...) of the raw head output.
    head: the native HeadSpec the decoder reads the output with.
    recipe: the preprocessing the model was trained with (overridable).
    names: class id -> name, from metadata or numbered.
    """

    path: Path
    input_name: str
    input_shape: tuple[int | None, int, int, int]
    output_name: str
    output_shape: tuple[int | None, ...]
    head: _core.HeadSpec
    recipe: _core.Recipe
    names: dict[int, str]
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def input_hw(self) -> tuple[int, int]:
        return self.input_shape[2], self.input_shape[3]

    @property
    def dynamic_batch(self) -> bool:
        return self.input_shape[0] is None

    @property
    def format(self) -> str:
        return heads.format_name(self.head)

    @property
    def task(self) -> str:
        return self.metadata.get("task", "detect")


def parse_names(text: str) -> dict[int, str]:
    """Parses ultralytics' ``names`` metadata (a dict literal, or a list) without evaluating code."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError) as e:
        raise ModelError(f"metadata 'names': not a dict or list literal ({e})") from None
    if isinstance(value, (list, tuple)):
        value = dict(enumerate(value))
    if not isinstance(value, dict) or not all(isinstance(k, int) for k in value):
        raise ModelError("metadata 'names': expected {id: name, ...}")
    return {int(k): str(v) for k, v in value.items()}


def _dim(d: Any) -> int | None:
    return d if isinstance(d, int) and d > 0 else None


def check_model_path(model: str | os.PathLike | None) -> Path:
    """Resolves the model argument, else FASTDET_MODEL, else the embedded default, to an existing file."""
    if model is None:
        model = os.environ.get("FASTDET_MODEL")
    if not model:
        return default_model.path()
    p = Path(model).expanduser()
    if not p.is_file():
        raise FileNotFoundError(f"model: no such file: {str(p)!r}; " + HOW_TO_GET_A_MODEL)
    return p


def describe_session(
    path: Path,
    session: Any,
    *,
    head: str | None = None,
    recipe: _core.Recipe | str | None = None,
    names: Mapping[int, str] | None = None,
) -> ModelInfo:
    """Builds ModelInfo from an onnxruntime InferenceSession of the model at ``path``."""
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1:
        raise ModelError(f"{path.name}: expected one image input, found {len(inputs)}: is this a detector?")
    inp = inputs[0]
    shape = list(inp.shape)
    if len(shape) != 4:
        raise ModelError(f"{path.name}: expected an NCHW image input, got input {inp.name!r} of shape {shape}")
    if _dim(shape[1]) != 3:
        raise ModelError(f"{path.name}: expected 3 input channels, got input shape {shape}")
    if "float" not in inp.type or "16" in inp.type:
        raise ModelError(f"{path.name}: expected a float32 input, got {inp.type}")
    meta = dict(session.get_modelmeta().custom_metadata_map or {})
    ih, iw = _dim(shape[2]), _dim(shape[3])
    if ih is None or iw is None:
        imgsz = meta.get("imgsz")
        try:
            ih, iw = (int(v) for v in ast.literal_eval(imgsz)) if imgsz else (None, None)
        except (ValueError, SyntaxError, TypeError):
            ih, iw = None, None
    if ih is None or iw is None:
        ih = iw = 640
        log.info("%s: dynamic input size without imgsz metadata, using 640x640", path.name)
    if meta.get("task", "detect") != "detect":
        raise ModelError(f"{path.name}: metadata task is {meta['task']!r}; fastdet decodes detection models")
    class_names = dict(names) if names is not None else (parse_names(meta["names"]) if "names" in meta else None)
    out = outputs[0]
    if "float" not in out.type or "16" in out.type:
        raise ModelError(f"{path.name}: expected a float32 output, got {out.type}")
    try:
        spec = heads.detect_head(out.shape, (ih, iw), len(class_names) if class_names else None, head)
    except heads.UnsupportedModelError as e:
        raise ModelError(f"{path.name}: {e}") from None
    if class_names is None:
        class_names = {i: str(i) for i in range(spec.num_classes if heads.format_name(spec) != "end2end" else 0)}
    if recipe is None:
        recipe = "yolox" if heads.format_name(spec) == "yolox" else "ultralytics"
    r = recipes.preset(recipe) if isinstance(recipe, str) else recipe
    out_shape = tuple(_dim(d) for d in out.shape)
    return ModelInfo(path, inp.name, (_dim(shape[0]), 3, ih, iw), out.name, out_shape, spec, r, class_names, meta)
