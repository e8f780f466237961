"""Regression tests for inputs that once crashed the core or came back as silent garbage: each
one now raises a fastdet error naming the argument, or is dropped and counted."""

from __future__ import annotations

import numpy as np
import pytest

import fastdet
from fastdet import _core
from tiny_models import constant_output, yolov8_like

P = _core.Placement
F = _core.HeadFormat


def geometry(h=480, w=640, size=640):
    return _core.make_geometry(h, w, size, size, P.CENTER, True)


# ------------------------------------------------------------------------------ head spec


def test_yolox_head_narrower_than_a_stride_is_rejected():
    # Once a SIGFPE: the grid width 16 // 32 == 0 was a divisor in decode.
    with pytest.raises(fastdet.InputError, match="largest stride"):
        _core.HeadSpec(F.YOLOX, 1, 6, 16, 16)
    with pytest.raises(fastdet.InputError, match="one anchor per grid cell, 8400"):
        _core.HeadSpec(F.YOLOX, 80, 100, 640, 640)
    assert _core.HeadSpec(F.YOLOX, 80, 8400, 640, 640).num_anchors == 8400
    with pytest.raises(fastdet.InputError, match="input size"):
        _core.HeadSpec(F.YOLOV8, 80, 8400, 0, 640)
    with pytest.raises(fastdet.InputError, match="strides"):
        _core.HeadSpec(F.YOLOV8, 80, 8400, 640, 640, [8, 0])
    with pytest.raises(fastdet.InputError, match="format"):
        _core.HeadSpec(F(7), 80, 8400)


def test_yolox_model_smaller_than_its_strides_is_a_model_error(tmp_path):
    m = constant_output(tmp_path / "m.onnx", (16, 16), (1, 6, 6))
    with pytest.raises(fastdet.ModelError, match="largest stride"):
        fastdet.Detector(m, head="yolox")


def test_zero_size_input_is_a_model_error_at_load(tmp_path):
    m = constant_output(tmp_path / "m.onnx", (0, 0), (1, 84, 10))
    with pytest.raises(fastdet.ModelError, match="zero or negative"):
        fastdet.Detector(m)


@pytest.mark.parametrize("imgsz", ["[0, -5]", "[99999, 640]", "'big'", "[640]"])
def test_bad_imgsz_metadata_is_a_model_error(tmp_path, imgsz):
    m = yolov8_like(tmp_path / "m.onnx", np.array([[8, 8, 4, 4]] * 8, np.float32), np.zeros((2, 8), np.float32),
                    metadata={"imgsz": imgsz})
    # The tiny model's input is static, so imgsz only matters for dynamic ones: rewrite it dynamic.
    import onnx

    model = onnx.load(str(m))
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_param, dims[3].dim_param = "h", "w"
    onnx.save(model, str(m))
    with pytest.raises(fastdet.ModelError, match="imgsz"):
        fastdet.Detector(m)


# ------------------------------------------------------------------------- model outputs


def yolov8_rows(rows, nc=3):
    """[1, 4+nc, N] output from rows (cx, cy, w, h, class, score)."""
    out = np.zeros((1, 4 + nc, len(rows)), np.float32)
    for n, (cx, cy, w, h, c, s) in enumerate(rows):
        out[0, :4, n] = cx, cy, w, h
        out[0, 4 + c, n] = s
    return out


def test_non_finite_and_inverted_boxes_are_dropped_and_counted():
    nan, inf = float("nan"), float("inf")
    rows = [(100, 100, 50, 50, 0, 0.9),   # valid
            (nan, 100, 50, 50, 1, 0.9),   # NaN coordinate
            (200, 200, inf, 50, 1, 0.8),  # infinite width
            (300, 300, -40, 50, 2, 0.7),  # negative width: inverted box
            (400, 400, 30, -1, 2, 0.6),   # negative height
            (500, 500, 0, 0, 2, 0.5),     # zero size: valid
            (50, 50, 10, 10, 0, inf)]     # infinite score
    out = yolov8_rows(rows)
    head = _core.HeadSpec(F.YOLOV8, 3, len(rows))
    (xyxy, scores, ids, st), = _core.decode(out, head, [geometry()], _core.DecodeOptions())
    assert st.invalid == 5 and st.candidates == 2 and st.kept == 2
    assert np.isfinite(xyxy).all() and np.isfinite(scores).all()
    assert ((xyxy[:, 2] >= xyxy[:, 0]) & (xyxy[:, 3] >= xyxy[:, 1])).all()


def test_end_to_end_class_ids_outside_the_model_are_dropped():
    nan = float("nan")
    k = 6
    out = np.zeros((1, k, 6), np.float32)
    out[0, :, :4] = [10, 10, 50, 50]
    out[0, :, 4] = 0.9
    out[0, :, 5] = [0, 2, nan, 1e10, -1, 3]  # nc = 3: 0 and 2 valid
    head = _core.HeadSpec(F.END2END, 3, k)
    (xyxy, scores, ids, st), = _core.decode(out, head, [geometry()], _core.DecodeOptions())
    assert st.invalid == 4 and ids.tolist() == [0, 2]
    assert ((ids >= 0) & (ids < 3)).all()


def test_detector_reports_malformed_rows(tmp_path, caplog):
    boxes = np.array([[20, 20, 16, 16], [20, 20, -16, 16], [40, 40, 8, 8]], np.float32)
    weights = np.full((1, 3), 0.9, np.float32)
    m = yolov8_like(tmp_path / "m.onnx", boxes, weights, metadata={"names": "{0: 'person'}"})
    det = fastdet.Detector(m)
    frame = np.full((64, 64, 3), 255, np.uint8)
    with caplog.at_level("WARNING", logger="fastdet"):
        d = det.detect(frame)
        det.detect(frame)
    assert d.invalid == 1 and len(d) == 2 and "malformed" in repr(d)
    assert sum("malformed rows" in r.getMessage() for r in caplog.records) == 1


# ------------------------------------------------------------------------------------ nms


@pytest.mark.parametrize("iou", [-0.1, float("nan"), 1.5])
def test_nms_rejects_bad_iou(iou):
    b = np.array([[0, 0, 1, 1]], np.float32)
    with pytest.raises(fastdet.InputError, match="iou"):
        fastdet.nms(b, np.ones(1, np.float32), iou)
    with pytest.raises(fastdet.InputError, match="iou"):
        _core.DecodeOptions(iou=iou)


@pytest.mark.parametrize("max_det", [-5, 0, 2**31 - 1])
def test_nms_and_options_reject_bad_max_det(max_det):
    b = np.array([[0, 0, 1, 1]], np.float32)
    with pytest.raises(fastdet.InputError, match="max_det"):
        fastdet.nms(b, np.ones(1, np.float32), 0.5, max_det=max_det)
    with pytest.raises(fastdet.InputError, match="max_det"):
        _core.DecodeOptions(max_det=max_det)


def test_nms_takes_any_integer_class_dtype_and_rejects_nan_scores():
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 100, (200, 2)).astype(np.float32)
    boxes = np.concatenate([xy, xy + rng.uniform(5, 40, (200, 2)).astype(np.float32)], 1)
    scores = rng.uniform(0, 1, 200).astype(np.float32)
    cls = rng.integers(0, 5, 200)
    ref = fastdet.nms(boxes, scores, 0.5, cls.astype(np.int32))
    for dt in (np.int8, np.uint8, np.int16, np.int64, np.uint32):
        np.testing.assert_array_equal(fastdet.nms(boxes, scores, 0.5, cls.astype(dt)), ref)
    with pytest.raises(fastdet.InputTypeError, match="integer dtype"):
        fastdet.nms(boxes, scores, 0.5, cls.astype(np.float32))
    with pytest.raises(fastdet.InputError, match="int32 range"):
        fastdet.nms(boxes, scores, 0.5, np.full(200, 2**40, np.int64))
    scores[7] = np.nan
    with pytest.raises(fastdet.InputError, match="NaN at index 7"):
        fastdet.nms(boxes, scores, 0.5)


# ------------------------------------------------------------------------------ loose types


def test_placement_values_outside_the_enum_are_rejected():
    r = _core.Recipe()
    with pytest.raises(fastdet.InputError, match="placement"):
        r.placement = P(7)
    with pytest.raises(fastdet.InputError, match="placement"):
        _core.make_geometry(10, 10, 64, 64, P(7), True)


@pytest.mark.parametrize("flag", [2.5, None, "no", 1])
def test_flags_take_only_booleans(flag):
    frame = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(fastdet.InputTypeError):
        fastdet.letterbox(frame, 32, rgb=flag)
    r = _core.Recipe()
    with pytest.raises(fastdet.InputTypeError, match="output_rgb"):
        r.output_rgb = flag
    with pytest.raises(fastdet.InputTypeError, match="agnostic"):
        _core.DecodeOptions(agnostic=flag)
    r.output_rgb = np.bool_(False)  # numpy booleans are booleans
    assert r.output_rgb is False


def test_letterbox_sizes_and_out_types():
    frame = np.zeros((8, 8, 3), np.uint8)
    t, g = fastdet.letterbox(frame, np.int64(32))
    assert t.shape == (3, 32, 32)
    t, _ = fastdet.letterbox(frame, (np.int32(16), 32))
    assert t.shape == (3, 16, 32)
    with pytest.raises(fastdet.InputTypeError, match="size"):
        fastdet.letterbox(frame, 32.0)
    with pytest.raises(fastdet.InputTypeError, match="out"):
        fastdet.letterbox(frame, 32, out=[1, 2, 3])
    with pytest.raises(fastdet.InputError, match="size"):
        fastdet.letterbox(frame, (0, 32))


@pytest.mark.parametrize("device,exc", [(5, fastdet.InputTypeError), ("gpu", fastdet.InputError),
                                        ("cuda:x", fastdet.InputError)])
def test_device_is_validated_in_one_place(tmp_path, device, exc):
    m = yolov8_like(tmp_path / "m.onnx", np.array([[8, 8, 4, 4]] * 8, np.float32), np.zeros((2, 8), np.float32))
    with pytest.raises(exc, match="device"):
        fastdet.Detector(m, device=device)


def test_cpu_backend_refuses_a_gpu_device(tmp_path):
    m = yolov8_like(tmp_path / "m.onnx", np.array([[8, 8, 4, 4]] * 8, np.float32), np.zeros((2, 8), np.float32))
    with pytest.raises(fastdet.InputError, match="runs on the CPU"):
        fastdet.Detector(m, backend="onnxruntime-cpu", device="cuda:0")


def test_backend_options_are_typed(tmp_path):
    m = yolov8_like(tmp_path / "m.onnx", np.array([[8, 8, 4, 4]] * 8, np.float32), np.zeros((2, 8), np.float32))
    # Once "TypeError: describe_session() got an unexpected keyword argument" from deep inside.
    with pytest.raises(fastdet.InputError, match="precision: not an option of backend 'onnxruntime-cpu'"):
        fastdet.Detector(m, backend="onnxruntime-cpu", precision="fp16")
    with pytest.raises(fastdet.InputError, match="colour: not an option of any backend"):
        fastdet.Detector(m, colour="red")
    with pytest.raises(fastdet.InputTypeError, match="threads"):
        fastdet.Detector(m, backend="onnxruntime-cpu", threads="4")
    with pytest.raises(fastdet.InputError, match="threads"):
        fastdet.Detector(m, backend="onnxruntime-cpu", threads=0)
    assert fastdet.Detector(m, backend="onnxruntime-cpu", threads=1).backend == "onnxruntime-cpu"


# --------------------------------------------------------------------------------- max_det


def test_huge_max_det_costs_only_what_is_found():
    out = yolov8_rows([(100, 100, 50, 50, 0, 0.9)])
    head = _core.HeadSpec(F.YOLOV8, 3, 1)
    opts = _core.DecodeOptions(max_det=1 << 20)
    for _ in range(3):  # once a MemoryError on every call (rows sized by max_det)
        (xyxy, _, _, st), = _core.decode(out, head, [geometry()], opts)
        assert st.kept == 1


def test_errors_share_one_base():
    for cls in (fastdet.InputError, fastdet.InputTypeError, fastdet.ModelError, fastdet.BackendUnavailable,
                fastdet.EngineError, fastdet.CudaError, fastdet.UnsafeCacheError):
        assert issubclass(cls, fastdet.Error)
    assert issubclass(fastdet.InputError, ValueError) and issubclass(fastdet.InputTypeError, TypeError)
    assert issubclass(fastdet.ModelError, ValueError) and issubclass(fastdet.BackendUnavailable, RuntimeError)


def test_empty_class_filter_is_refused_everywhere(tmp_path):
    # Once: kept nothing on the CPU path and everything on the CUDA path.
    head = _core.HeadSpec(F.YOLOV8, 3, 1)
    with pytest.raises(fastdet.InputError, match="at least one class"):
        _core.decode(yolov8_rows([(100, 100, 50, 50, 0, 0.9)]), head, [geometry()], _core.DecodeOptions(), [])
    m = yolov8_like(tmp_path / "m.onnx", np.array([[8, 8, 4, 4]] * 8, np.float32), np.zeros((2, 8), np.float32))
    with pytest.raises(fastdet.InputError, match="at least one class"):
        fastdet.Detector(m, classes=[])


def test_public_surface_is_what_all_says():
    names = dir(fastdet)
    assert "version" not in names and "PackageNotFoundError" not in names and "detector" not in names
    assert set(fastdet.__all__) <= set(names)


def test_detector_settings_are_read_only(tmp_path):
    m = yolov8_like(tmp_path / "m.onnx", np.array([[8, 8, 4, 4]] * 8, np.float32), np.zeros((2, 8), np.float32))
    det = fastdet.Detector(m, classes=[1])
    with pytest.raises(AttributeError):
        det.options = _core.DecodeOptions(conf=0.9)  # once silently ignored by the GPU path
    with pytest.raises(AttributeError):
        det.classes = [0]
    det.classes.append(0)  # a copy: the Detector's filter is unchanged
    assert det.classes == [1]
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        det.info.names = {}


def test_command_modules_do_not_import_each_other():
    import subprocess
    import sys

    code = ("import sys, fastdet.detect_cli, fastdet.info_cli, fastdet.models_cli, fastdet.build_cli, "
            "fastdet.bench.cli; print('fastdet.cli' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_sizes_and_counts_too_large_to_be_meant_are_refused_before_anything_is_allocated():
    """A letterbox side above the native limit (it used to allocate 55 GiB first and raise
    MemoryError) and a thread count ONNX Runtime would start for real (100,000 took all memory)."""
    frame = np.zeros((10, 10, 3), np.uint8)
    for size in (70000, (70000, 640), (640, 70000)):
        with pytest.raises(fastdet.InputError, match="65536"):
            fastdet.letterbox(frame, size)
    from fastdet.backends.options import OnnxRuntimeOptions

    with pytest.raises(fastdet.InputError, match="threads: expected at most 1024"):
        OnnxRuntimeOptions(threads=100000)


def test_saving_where_no_image_can_go_is_one_clear_error(tmp_path):
    pytest.importorskip("cv2")
    frame = np.zeros((20, 20, 3), np.uint8)
    dets = fastdet.Detections(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int32), {},
                              (20, 20))
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(fastdet.InputError, match="cannot make the folder"):
        dets.save(blocker / "out.jpg", frame)
    with pytest.raises(fastdet.InputError, match="image suffix"):
        dets.save(tmp_path / "new" / "out.xyz", frame)
    assert not (tmp_path / "new").exists()  # nothing made for a file that cannot be written
