"""The embedded default model (YOLOX-Nano with COCO names) and the sample image shipped beside it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import pytest

import fastdet
from fastdet import default_model
from fastdet.cli import main

REPO = Path(__file__).resolve().parents[1]
ASTRONAUT = REPO / "examples" / "astronaut.jpg"


@pytest.fixture(scope="module")
def astronaut():
    image = cv2.imread(str(ASTRONAUT))
    assert image is not None and image.shape == (512, 512, 3)
    return image


@pytest.fixture()
def no_env_model(monkeypatch):
    monkeypatch.delenv("FASTDET_MODEL", raising=False)


def test_detector_without_a_model_is_the_embedded_yolox_nano(no_env_model):
    det = fastdet.Detector()
    assert det.info.path == default_model.PATH
    # Picked from the output shape and the 80 names written into the metadata: YOLOX head and recipe.
    assert det.info.format == "yolox" and det.input_size == (416, 416)
    recipe = det.info.recipe
    assert recipe.scale == 1.0 and not recipe.output_rgb and recipe.placement == fastdet.make_recipe(
        placement="top_left").placement
    assert len(det.names) == 80 and det.names[0] == "person" and det.names[79] == "toothbrush"
    assert det.info.task == "detect" and det.info.metadata["license"] == "Apache-2.0"


def test_detect_finds_the_astronaut(no_env_model, astronaut):
    dets = fastdet.detect(astronaut)
    assert [b.name for b in dets] == ["person"]
    (x1, y1, x2, y2) = dets.xyxy[0]
    # She fills the left two thirds of the 512x512 photo, head to the bottom edge.
    assert x1 < 40 and y1 < 60 and 320 < x2 < 420 and y2 > 480
    assert dets.scores[0] > 0.8


def test_classes_by_single_name_on_the_embedded_model(no_env_model, astronaut):
    det = fastdet.Detector(classes="person")
    assert det.classes == [0]
    assert [b.name for b in det.detect(astronaut)] == ["person"]
    assert len(fastdet.Detector(classes="car").detect(astronaut)) == 0


def test_fastdet_model_and_explicit_paths_win(two_class_model, monkeypatch):
    monkeypatch.setenv("FASTDET_MODEL", str(two_class_model))
    assert fastdet.Detector().info.path == two_class_model
    monkeypatch.setenv("FASTDET_MODEL", str(two_class_model.parent / "missing.onnx"))
    assert fastdet.Detector(default_model.PATH).info.format == "yolox"
    with pytest.raises(fastdet.ModelError, match="missing.onnx"):
        fastdet.Detector()


def test_cli_detect_and_info_without_a_model(no_env_model, tmp_path, capsys):
    assert main(["detect", str(ASTRONAUT), "--save", str(tmp_path)]) == 0
    assert "astronaut.jpg: 1 person" in capsys.readouterr().out
    assert cv2.imread(str(tmp_path / "astronaut.jpg")).shape == (512, 512, 3)
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "yolox_nano.onnx" in out and "embedded" in out and "0=person" in out


def test_shipped_metadata_is_what_the_tool_writes(tmp_path):
    """Running tools/embed_model_metadata.py on the shipped file changes nothing."""
    tool = _load_tool()
    written = tool.embed(default_model.PATH, tmp_path / "again.onnx")
    assert written == default_model.PATH.read_bytes()


@pytest.mark.assets
def test_shipped_model_is_remade_from_the_upstream_export(assets, tmp_path):
    tool = _load_tool()
    written = tool.embed(assets / "models" / "yolox_nano.onnx", tmp_path / "remade.onnx")
    assert written == default_model.PATH.read_bytes()


def test_installed_package_fits_a_small_wheel():
    """The wheel stays under 10 MB: the installed files, uncompressed, bound it from above."""
    if fastdet._core.sanitized:
        pytest.skip("a sanitizer test build (debug info, instrumentation) is not what ships")
    package = Path(fastdet.__file__).parent
    files = [p for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    core = Path(fastdet._core.__file__)
    if package not in core.parents:  # an editable install keeps the extension elsewhere
        files.append(core)
    total = sum(p.stat().st_size for p in files)
    assert default_model.PATH in files or default_model.PATH.resolve() in [p.resolve() for p in files]
    assert total < 10 * 2**20, f"{total / 2**20:.1f} MiB installed"


def _load_tool():
    spec = importlib.util.spec_from_file_location("embed_model_metadata", REPO / "tools" / "embed_model_metadata.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_models_command_says_how_to_bring_your_own(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert str(default_model.PATH) in out and "NOTICE" in out
    for needle in ("yolo export model=yolo11n.pt format=onnx", "format=openvino", "YOLOX", "--decode_in_inference",
                   "YOLOv5", "YOLOv7", "--grid", "End-to-end", "yolo26n.pt", "FASTDET_MODEL", "fastdet info"):
        assert needle in out, needle
