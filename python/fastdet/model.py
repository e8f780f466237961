"""Model loading: an ONNX file's input, output, head format, class names and recipe."""

from __future__ import annotations

import ast
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from . import _core, default_model, heads, recipes
from .errors import InputError, InputTypeError, ModelError
from .onnx_external_data import check_external_data

log = logging.getLogger("fastdet")

HOW_TO_GET_A_MODEL = (
    "pass model='path/to/model.onnx' or set FASTDET_MODEL (or neither, for the embedded default model). "
    "To get an ONNX detector, export one, e.g. `pip install ultralytics && yolo export model=yolo11n.pt "
    "format=onnx` (writes yolo11n.onnx); `fastdet models` says more."
)


@dataclass(frozen=True)
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


class ClassNames(dict):
    """Class id -> name, read-only: one Detector's names are shared by every result it returns and
    every thread that uses it, so an edit through one result would rename classes for all of them.
    A dict otherwise (JSON, ``dict(names)``, pickling); ``copy()`` gives a plain, editable dict."""

    __slots__ = ()

    def _read_only(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("class names are read-only: copy them (names.copy()) or pass names= to a new Detector")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = __ior__ = _read_only  # type: ignore[assignment]

    def copy(self) -> dict[int, str]:  # type: ignore[override]
        return dict(self)

    def __reduce__(self) -> tuple[Any, ...]:
        return (ClassNames, (dict(self),))


def normalize_names(names: Any) -> dict[int, str]:
    """A ``names=`` argument — {id: name} (ids as ints, or as digit strings from JSON) or a list of
    names — as {int: str}; anything else is an InputTypeError, an empty or negative one an InputError."""
    if isinstance(names, Mapping):
        items = list(names.items())
    elif isinstance(names, (list, tuple)):
        items = list(enumerate(names))
    else:
        raise InputTypeError(f"names: expected {{class id: name}} or a list of names, got {type(names).__name__}")
    if not items:
        raise InputError("names: expected at least one class name (or None to read them from the model)")
    out: dict[int, str] = {}
    for k, v in items:
        if isinstance(k, str) and k.strip().lstrip("-").isdigit():
            k = int(k)
        if isinstance(k, bool) or not isinstance(k, int):
            raise InputTypeError(f"names: class ids must be whole numbers, got {k!r}")
        if k < 0:
            raise InputError(f"names: class ids must be 0 or more, got {k}")
        if not isinstance(v, str):
            raise InputTypeError(f"names: class {k}'s name must be a str, got {v!r}")
        out[int(k)] = v
    return out


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


def _static_dims_positive(path: Path, what: str, shape: list[Any]) -> None:
    """A declared (integer) dimension of 0 or less is a broken export, not a dynamic one."""
    if any(isinstance(d, int) and d <= 0 for d in shape):
        raise ModelError(f"{path.name}: {what} shape {shape} declares a zero or negative size")


#: Largest input side fastdet letterboxes into (the native core's limit).
MAX_INPUT_SIDE = _core.MAX_FRAME_SIDE


def _imgsz(path: Path, text: str) -> tuple[int, int]:
    """ultralytics' ``imgsz`` metadata: ``[h, w]`` or one int; positive, at most MAX_INPUT_SIDE."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise ModelError(f"{path.name}: metadata 'imgsz' is not a literal: {text!r}") from None
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value, value)
    if (not isinstance(value, (list, tuple)) or len(value) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
        raise ModelError(f"{path.name}: metadata 'imgsz' must be [height, width] or one int, got {text!r}")
    h, w = value
    if not (0 < h <= MAX_INPUT_SIDE and 0 < w <= MAX_INPUT_SIDE):
        raise ModelError(f"{path.name}: metadata 'imgsz' {text!r}: expected 1 to {MAX_INPUT_SIDE} pixels per side")
    return h, w


def check_model_path(model: str | os.PathLike | None) -> Path:
    """Resolves the model argument, else FASTDET_MODEL, else the embedded default, to an existing file
    (or, for OpenVINO, an export folder holding an IR)."""
    if model is None:
        model = os.environ.get("FASTDET_MODEL") or None  # set but empty: the default, as if unset
        if model is None:
            return default_model.path()
    if not isinstance(model, (str, os.PathLike)):
        raise InputTypeError(f"model: expected a path (str or os.PathLike), got {type(model).__name__}")
    if not os.fspath(model):
        raise ModelError("model: an empty path; " + HOW_TO_GET_A_MODEL)
    p = Path(model).expanduser()
    if p.is_dir():
        if not any(p.glob("*.xml")):
            raise ModelError(f"model: {str(p)!r} is a folder without an OpenVINO IR (.xml), not a model file; "
                             + HOW_TO_GET_A_MODEL)
        return p
    if not p.is_file():
        raise ModelError(f"model: no such file: {str(p)!r}; " + HOW_TO_GET_A_MODEL)
    if not os.access(p, os.R_OK):
        raise ModelError(f"model: {str(p)!r} is not readable (permissions)")
    check_external_data(p)
    return p


def describe_session(
    path: Path,
    session: Any,
    *,
    head: str | None = None,
    recipe: _core.Recipe | str | None = None,
    names: Mapping[int, str] | None = None,
) -> ModelInfo:
    """Builds ModelInfo from an onnxruntime InferenceSession of the model at ``path`` (or anything
    with its get_inputs, get_outputs and get_modelmeta)."""
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
    _static_dims_positive(path, "input", shape)
    meta = dict(session.get_modelmeta().custom_metadata_map or {})
    ih, iw = _dim(shape[2]), _dim(shape[3])
    if ih is not None and iw is not None and max(ih, iw) > MAX_INPUT_SIDE:
        raise ModelError(f"{path.name}: input {ih}x{iw} exceeds {MAX_INPUT_SIDE} pixels per side")
    if (ih is None or iw is None) and meta.get("imgsz"):
        ih, iw = _imgsz(path, meta["imgsz"])
    if ih is None or iw is None:
        ih = iw = 640
        log.info("%s: dynamic input size without imgsz metadata, using 640x640", path.name)
    if meta.get("task", "detect") != "detect":
        raise ModelError(f"{path.name}: metadata task is {meta['task']!r}; fastdet decodes detection models")
    class_names = normalize_names(names) if names is not None else (parse_names(meta["names"]) if "names" in meta else None)
    out = outputs[0]
    if "float" not in out.type or "16" in out.type:
        raise ModelError(f"{path.name}: expected a float32 output, got {out.type}")
    _static_dims_positive(path, "output", list(out.shape))
    try:
        spec = heads.detect_head(out.shape, (ih, iw), len(class_names) if class_names else None, head)
    except heads.UnsupportedModelError as e:
        raise ModelError(f"{path.name}: {e}") from None
    if class_names is None:
        class_names = {i: str(i) for i in range(spec.num_classes if heads.format_name(spec) != "end2end" else 0)}
    if recipe is None:
        recipe = "yolox" if heads.format_name(spec) == "yolox" else "ultralytics"
    r = recipes.resolve(recipe)  # a copy: the caller's Recipe object stays theirs to change
    out_shape = tuple(_dim(d) for d in out.shape)
    return ModelInfo(path, inp.name, (_dim(shape[0]), 3, ih, iw), out.name, out_shape, spec, r,
                     ClassNames(class_names), meta)
