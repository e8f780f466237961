"""`fastdet quantize`: the head scope kept in float, the CLI's argument handling, and one small
end-to-end quantization (skipped where NNCF is not installed: it is not in the test extra)."""

from __future__ import annotations

import sys

import cv2
import numpy as np
import pytest

import fastdet
from fastdet.cli import main

ov = pytest.importorskip("openvino", reason="quantization writes OpenVINO IR (pip install 'fastdet[cpu]')")
onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from bench.convnet import convnet_model  # noqa: E402
from fastdet.backends.openvino_core import shared_core  # noqa: E402
from fastdet.quantize import head_tail  # noqa: E402


def _dfl_model(path):
    """conv -> [1, 64, N] box logits -> reshape [1, 4, 16, N] -> softmax -> 1x1 conv with fixed
    weights 0..15 (the DFL expectation) -> boxes; conv -> sigmoid -> scores; concat."""
    rng = np.random.default_rng(0)
    x = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 32, 32])
    y = helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 6, 64])
    inits = [numpy_helper.from_array(rng.standard_normal((64, 3, 3, 3)).astype(np.float32) * 0.1, "wb"),
             numpy_helper.from_array(rng.standard_normal((2, 3, 3, 3)).astype(np.float32) * 0.1, "wc"),
             numpy_helper.from_array(np.arange(16, dtype=np.float32).reshape(1, 16, 1, 1), "dfl"),
             numpy_helper.from_array(np.array([1, 4, 16, 64], np.int64), "s4"),
             numpy_helper.from_array(np.array([1, 4, 64], np.int64), "s3"),
             numpy_helper.from_array(np.array([1, 2, 64], np.int64), "s2")]
    nodes = [
        helper.make_node("Conv", ["images", "wb"], ["b"], kernel_shape=[3, 3], strides=[4, 4], pads=[1, 1, 1, 1],
                         name="box_conv"),
        helper.make_node("Reshape", ["b", "s4"], ["b4"]),
        helper.make_node("Transpose", ["b4"], ["bt"], perm=[0, 2, 1, 3]),
        helper.make_node("Softmax", ["bt"], ["bs"], axis=1),
        helper.make_node("Conv", ["bs", "dfl"], ["bd"], kernel_shape=[1, 1], name="dfl_conv"),
        helper.make_node("Reshape", ["bd", "s3"], ["boxes"]),
        helper.make_node("Conv", ["images", "wc"], ["c"], kernel_shape=[3, 3], strides=[4, 4], pads=[1, 1, 1, 1],
                         name="cls_conv"),
        helper.make_node("Reshape", ["c", "s2"], ["c2"]),
        helper.make_node("Sigmoid", ["c2"], ["scores"], name="cls_sigmoid"),
        helper.make_node("Concat", ["boxes", "scores"], ["output0"], axis=1),
    ]
    model = helper.make_model(helper.make_graph(nodes, "dfl", [x], [y], inits),
                              opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_head_tail_keeps_dfl_and_sigmoid_and_stops_at_the_last_convs(tmp_path):
    model = ov.convert_model(str(_dfl_model(tmp_path / "dfl.onnx")))
    tail = head_tail(model)
    kinds = {op.get_friendly_name(): op.get_type_name() for op in model.get_ordered_ops()}
    assert "dfl_conv" in tail and kinds["dfl_conv"] == "Convolution"
    assert "cls_sigmoid" in tail and any(kinds[n] == "Softmax" for n in tail)
    assert not {"box_conv", "cls_conv"} & set(tail)
    assert [n for n in tail if kinds[n] == "Convolution"] == ["dfl_conv"]


def test_head_tail_of_a_yolo_shaped_model(tmp_path):
    model = ov.convert_model(str(convnet_model(tmp_path / "c.onnx", candidates=20, input_size=64)))
    kinds = {op.get_friendly_name(): op.get_type_name() for op in model.get_ordered_ops()}
    tail = head_tail(model)
    assert "Convolution" not in {kinds[n] for n in tail}
    assert {"Concat", "Reshape"} <= {kinds[n] for n in tail}


@pytest.mark.parametrize("argv, message", [
    (["--samples", "0"], "positive number of images"),
    (["--samples", "many"], "positive number of images"),
    (["--preset", "fast"], "invalid choice"),
])
def test_cli_rejects_bad_arguments(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        main(["quantize", "m.onnx", "--data", "imgs", "--out", "q", *argv])
    assert e.value.code == 2 and message in capsys.readouterr().err


def test_cli_without_nncf_explains(two_class_model, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "nncf", None)
    assert main(["quantize", str(two_class_model), "--data", str(tmp_path), "--out", str(tmp_path / "q")]) == 2
    assert "pip install 'fastdet[quantize]'" in capsys.readouterr().err


def test_quantize_end_to_end(tmp_path, capsys):
    pytest.importorskip("nncf", reason="NNCF is not installed (pip install 'fastdet[quantize]')")
    model = convnet_model(tmp_path / "convnet.onnx", candidates=20, input_size=64)
    images = tmp_path / "calib"
    images.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        cv2.imwrite(str(images / f"{i}.png"), rng.integers(0, 256, (48 + 8 * i, 80, 3), np.uint8))
    out = tmp_path / "int8"
    assert main(["quantize", str(model), "--data", str(images), "--samples", "4", "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    assert {p.name for p in out.iterdir()} == {"model.xml", "model.bin", "metadata.yaml"}
    ir = shared_core().read_model(str(out / "model.xml"))
    assert any(op.get_type_name() == "FakeQuantize" for op in ir.get_ordered_ops()), "nothing was quantized"
    int8 = fastdet.Detector(out)
    fp32 = fastdet.Detector(model, backend="onnxruntime-cpu")
    assert int8.backend == "openvino-cpu" and int8.names == fp32.names
    assert "int8" in int8.info.metadata["quantization"] and "4 calibration images" in int8.info.metadata["quantization"]
    frame = rng.integers(0, 256, (60, 90, 3), np.uint8)
    a, b = int8.detect(frame), fp32.detect(frame)
    # The synthetic model's candidates are fixed offsets in its head (kept in float): the same
    # boxes come out of the int8 model.
    assert len(a) == len(b) > 0
    np.testing.assert_allclose(np.sort(a.scores), np.sort(b.scores), atol=0.01)
