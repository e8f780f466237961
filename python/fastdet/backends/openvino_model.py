"""What OpenVINO can read, and the ModelInfo of it.

Three sources, told apart by the path:

- an ONNX file (``.onnx``): OpenVINO reads it directly; its ultralytics metadata (``names``,
  ``imgsz``, ``stride``, ``task``) is read from the ONNX file with ``onnx`` or ``onnxruntime``,
  since OpenVINO's reader does not carry ONNX metadata over;
- an OpenVINO IR (``model.xml`` with ``model.bin`` beside it): metadata from a ``metadata.yaml``
  in the same folder (ultralytics' layout) or else from the IR's own ``rt_info`` (``fastdet``
  section, written by ``fastdet quantize``);
- an ultralytics OpenVINO export folder (``yolov8n_openvino_model/``): its one ``.xml`` and its
  ``metadata.yaml``.

Nothing here imports openvino at module import; ``read`` does.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .. import _core
from ..model import ModelError, ModelInfo, describe_session

log = logging.getLogger("fastdet")

#: rt_info section of an IR where fastdet keeps the model's metadata (all values strings).
RT_INFO_SECTION = "fastdet"
METADATA_FILE = "metadata.yaml"


def is_ir(path: Path) -> bool:
    """True for an OpenVINO IR file or a folder holding one (what only OpenVINO can read)."""
    return path.is_dir() or path.suffix.lower() == ".xml"


def ir_file(path: Path) -> Path:
    """The ``.xml`` of an IR path (the file itself, or the one ``.xml`` in a folder), checked to
    have its ``.bin`` beside it."""
    if path.is_dir():
        xmls = sorted(path.glob("*.xml"))
        if len(xmls) != 1:
            found = ", ".join(p.name for p in xmls) or "none"
            raise ModelError(f"{path}: expected one OpenVINO IR (.xml) in the folder, found {found}")
        path = xmls[0]
    if not path.with_suffix(".bin").is_file():
        raise ModelError(f"{path.name}: OpenVINO IR without its weights: {path.with_suffix('.bin').name} not found beside it")
    return path


def yaml_metadata(path: Path) -> dict[str, str]:
    """ultralytics' metadata.yaml as ONNX-style strings: names -> "{0: 'person', ...}",
    imgsz -> "[640, 640]", others str(value)."""
    try:
        import yaml
    except ImportError:
        raise ModelError(f"{path}: reading it needs PyYAML (pip install 'fastdet[cpu]')") from None
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise ModelError(f"{path}: not readable as YAML: {e}") from None
    if not isinstance(data, dict):
        raise ModelError(f"{path}: expected a mapping of metadata keys, got {type(data).__name__}")
    out = {}
    for k, v in data.items():
        if k == "names" and isinstance(v, (dict, list)):
            v = dict(enumerate(v)) if isinstance(v, list) else {int(i): str(n) for i, n in v.items()}
            out[k] = repr(v)
        elif isinstance(v, (list, tuple)):
            out[str(k)] = repr(list(v))
        elif v is not None and not isinstance(v, dict):
            out[str(k)] = str(v)
    return out


def onnx_metadata(path: Path) -> dict[str, str]:
    """The ONNX file's metadata_props, read with onnx (weights skipped) or else onnxruntime."""
    try:
        import onnx
    except ImportError:
        onnx = None
    if onnx is not None:
        try:
            model = onnx.load(str(path), load_external_data=False)
        except Exception as e:  # protobuf's DecodeError and friends
            raise ModelError(f"{path.name}: onnx cannot read it: {e}") from None
        return {p.key: p.value for p in model.metadata_props}
    try:
        import onnxruntime as ort
    except ImportError:
        log.warning("%s: neither onnx nor onnxruntime is installed, so its metadata (class names, imgsz) "
                    "cannot be read; classes will be numbered", path.name)
        return {}
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    try:
        session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime's own exception types
        raise ModelError(f"{path.name}: onnxruntime cannot read its metadata: {e}") from None
    return dict(session.get_modelmeta().custom_metadata_map or {})


def rt_info_metadata(model: Any) -> dict[str, str]:
    """Metadata fastdet stored in an IR's rt_info (see ``RT_INFO_SECTION``)."""
    if not model.has_rt_info([RT_INFO_SECTION]):
        return {}
    section = model.get_rt_info([RT_INFO_SECTION]).astype(dict)
    return {str(k): v.astype(str) if hasattr(v, "astype") else str(v) for k, v in section.items()}


@dataclass
class _Port:
    """One input or output as ``describe_session`` reads it (onnxruntime's NodeArg fields)."""

    name: str
    shape: list[int | None]
    type: str


@dataclass
class _Meta:
    custom_metadata_map: dict[str, str] = field(default_factory=dict)


_TYPES = {"f32": "tensor(float)", "f16": "tensor(float16)", "bf16": "tensor(bfloat16)"}


def _port(output: Any) -> _Port:
    shape = [d.get_length() if d.is_static else None for d in output.get_partial_shape()]
    et = output.get_element_type().get_type_name()
    return _Port(output.get_any_name(), shape, _TYPES.get(et, f"tensor({et})"))


class _ModelView:
    """An ``openvino.Model`` seen through the three onnxruntime session methods that
    ``describe_session`` uses, so both backends build ModelInfo with the same checks."""

    def __init__(self, model: Any, metadata: Mapping[str, str]) -> None:
        self._model = model
        self._meta = _Meta(dict(metadata))

    def get_inputs(self) -> list[_Port]:
        return [_port(p) for p in self._model.inputs]

    def get_outputs(self) -> list[_Port]:
        return [_port(p) for p in self._model.outputs]

    def get_modelmeta(self) -> _Meta:
        return self._meta


@dataclass
class LoadedModel:
    """An ``openvino.Model`` reshaped to the input size fastdet runs it at, and its ModelInfo."""

    model: Any
    info: ModelInfo
    source: str  # "onnx", "ir" or "ultralytics-folder"


def read(core: Any, path: Path, *, head: str | None = None, recipe: _core.Recipe | str | None = None,
         names: Mapping[int, str] | None = None) -> LoadedModel:
    """Reads ``path`` (ONNX, IR or export folder) with ``core`` (an ``openvino.Core``).

    Height and width are made static (the model's own, else its ``imgsz`` metadata, else 640);
    a dynamic batch stays dynamic.
    """
    if not path.exists():
        raise ModelError(f"model: no such file or folder: {str(path)!r}")
    if is_ir(path):
        xml = ir_file(path)
        source = "ultralytics-folder" if path.is_dir() else "ir"
        model = _read(core, xml, "an OpenVINO IR")
        yaml_file = xml.parent / METADATA_FILE
        metadata = yaml_metadata(yaml_file) if yaml_file.is_file() else rt_info_metadata(model)
    else:
        source = "onnx"
        model = _read(core, path, "an ONNX model")
        metadata = onnx_metadata(path)
    kw = dict(head=head, recipe=recipe, names=names)
    if len(model.inputs) != 1:
        raise ModelError(f"{path.name}: expected one image input, found {len(model.inputs)}: is this a detector?")
    info = describe_session(path, _ModelView(model, metadata), **kw)
    shape = model.inputs[0].get_partial_shape()
    h, w = info.input_hw
    if shape.rank.is_static and shape.rank.get_length() == 4 and (not shape[2].is_static or not shape[3].is_static):
        batch = shape[0] if shape[0].is_static else -1
        try:
            model.reshape({model.inputs[0].get_any_name(): [batch, 3, h, w]})
        except RuntimeError as e:
            raise ModelError(f"{path.name}: OpenVINO cannot set its input to {h}x{w}: {e}") from None
        info = describe_session(path, _ModelView(model, metadata), **kw)
    return LoadedModel(model, info, source)


def _read(core: Any, path: Path, what: str) -> Any:
    try:
        return core.read_model(str(path))
    except RuntimeError as e:  # OpenVINO reports unreadable files as RuntimeError
        lines = [line for line in str(e).strip().splitlines() if line.strip()]
        raise ModelError(f"{path.name}: OpenVINO cannot load it as {what}: {lines[-1] if lines else e}") from None


def _yaml_value(key: str, text: str) -> Any:
    """An ONNX-style metadata string back to the YAML value ultralytics writes."""
    import ast

    if key == "names":
        from ..model import parse_names

        return parse_names(text)
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
    return value if isinstance(value, (int, float, list, tuple)) else text


def write_ir(model: Any, folder: Path, metadata: Mapping[str, str], name: str = "model") -> Path:
    """Saves ``model`` (an ``openvino.Model``) as ``folder/name.xml`` + ``.bin`` with its metadata
    both in the IR's rt_info and in ``folder/metadata.yaml`` (ultralytics' export layout), so the
    folder and the bare ``.xml`` both load with their class names. Returns the ``.xml`` path."""
    import openvino as ov
    import yaml

    folder.mkdir(parents=True, exist_ok=True)
    for key, value in metadata.items():
        model.set_rt_info(str(value), [RT_INFO_SECTION, key])
    xml = folder / f"{name}.xml"
    # Weights stay fp32 (an int8 model's weights are already int8; fp16 compression would change
    # an fp32 model's numbers).
    ov.save_model(model, str(xml), compress_to_fp16=False)
    data = {k: _yaml_value(k, v) for k, v in metadata.items()}
    (folder / METADATA_FILE).write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return xml
