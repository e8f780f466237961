"""Bad input gets a clear Python exception, never a crash."""

from __future__ import annotations

import numpy as np
import pytest

import fastdet
from fastdet import _core
from tiny_models import not_a_detector, yolov8_like

pytestmark = pytest.mark.usefixtures("cpu_backend")


@pytest.fixture(scope="module")
def det(tmp_path_factory):
    path = yolov8_like(tmp_path_factory.mktemp("m") / "tiny.onnx", np.array([[8, 8, 4, 4]] * 8, np.float32),
                       np.full((2, 8), 0.5, np.float32))
    return fastdet.Detector(path)


@pytest.mark.parametrize(
    "frame,exc,match",
    [
        (np.zeros((10, 10, 3), np.float32), fastdet.InputTypeError, "dtype uint8"),
        (np.zeros((10, 10, 3), np.int64), fastdet.InputTypeError, "dtype uint8"),
        (np.zeros((10, 10), np.uint8), fastdet.InputError, "grayscale"),
        (np.zeros((2, 10, 10, 3), np.uint8), fastdet.InputError, "shape"),
        (np.zeros((10, 10, 2), np.uint8), fastdet.InputError, "3 \\(BGR/RGB\\) or 4 \\(BGRA/RGBA\\) channels"),
        (np.zeros((10, 10, 5), np.uint8), fastdet.InputError, "3 \\(BGR/RGB\\) or 4 \\(BGRA/RGBA\\) channels"),
        (np.zeros((0, 10, 3), np.uint8), fastdet.InputError, "1 to 65536 pixels per side"),
        (np.zeros((10, 0, 3), np.uint8), fastdet.InputError, "1 to 65536 pixels per side"),
        (np.zeros((10, 10, 3), np.uint8)[:, :, ::-1], fastdet.InputError, "ascontiguousarray"),
        (np.zeros((10, 20, 3), np.uint8)[:, ::2], fastdet.InputError, "ascontiguousarray"),
        ([[1, 2, 3]], fastdet.InputTypeError, "numpy uint8 array"),
        (None, fastdet.InputTypeError, "numpy uint8 array"),
    ],
)
def test_bad_frames(det, frame, exc, match):
    with pytest.raises(exc, match=match):
        det.detect(frame)


def test_native_letterbox_rejects_bad_arrays():
    r = _core.Recipe()
    ok = np.zeros((10, 10, 3), np.uint8)
    with pytest.raises(TypeError, match="frame: expected dtype uint8, got float64"):
        _core.letterbox_into(np.zeros((10, 10, 3)), np.zeros((3, 8, 8), np.float32), r)
    with pytest.raises(ValueError, match="frame: expected 3 dimensions"):
        _core.letterbox_into(np.zeros((10, 10), np.uint8), np.zeros((3, 8, 8), np.float32), r)
    with pytest.raises(ValueError, match="frame: expected rows of packed pixels"):
        _core.letterbox_into(ok[:, :, ::-1], np.zeros((3, 8, 8), np.float32), r)
    with pytest.raises(TypeError, match="out: expected dtype float32"):
        _core.letterbox_into(ok, np.zeros((3, 8, 8), np.float64), r)
    with pytest.raises(ValueError, match="out: expected shape \\(3, H, W\\)"):
        _core.letterbox_into(ok, np.zeros((4, 8, 8), np.float32), r)
    with pytest.raises(ValueError, match="out: expected a C-contiguous"):
        _core.letterbox_into(ok, np.zeros((3, 8, 16), np.float32)[:, :, ::2], r)
    ro = np.zeros((3, 8, 8), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        _core.letterbox_into(ok, ro, r)
    with pytest.raises(ValueError, match="std: expected positive"):
        r.std = (1.0, 0.0, 1.0)


def test_native_decode_rejects_mismatched_outputs():
    head = _core.HeadSpec(_core.HeadFormat.YOLOV8, 80, 8400)
    g = _core.make_geometry(640, 640, 640, 640)
    opts = _core.DecodeOptions()
    with pytest.raises(ValueError, match=r"output: expected shape \(B, 84, 8400\)"):
        _core.decode(np.zeros((1, 85, 8400), np.float32), head, [g], opts)
    with pytest.raises(TypeError, match="output: expected dtype float32"):
        _core.decode(np.zeros((1, 84, 8400), np.float16), head, [g], opts)
    with pytest.raises(ValueError, match="geometries: expected one per image"):
        _core.decode(np.zeros((2, 84, 8400), np.float32), head, [g], opts)
    with pytest.raises(ValueError, match="classes: expected ids in"):
        _core.decode(np.zeros((1, 84, 8400), np.float32), head, [g], opts, [80])
    with pytest.raises(ValueError, match="output: expected a C-contiguous"):
        _core.decode(np.zeros((1, 8400, 84), np.float32).transpose(0, 2, 1), head, [g], opts)
    with pytest.raises(ValueError, match="max_det"):
        _core.DecodeOptions(max_det=0)


def test_missing_file(det, tmp_path):
    with pytest.raises(fastdet.InputError, match="no such file"):
        det.detect(tmp_path / "missing.jpg")
    with pytest.raises(fastdet.InputError, match="is a folder"):
        det.detect(tmp_path)
    with pytest.raises(fastdet.ModelError, match="model: no such file"):
        fastdet.Detector(tmp_path / "missing.onnx")
    with pytest.raises(fastdet.ModelError, match="is a folder"):
        fastdet.Detector(tmp_path)


def test_unreadable_image(det, tmp_path):
    p = tmp_path / "broken.jpg"
    p.write_bytes(b"definitely not a jpeg")
    with pytest.raises(ValueError, match="cannot decode"):
        det.detect(p)


def test_non_onnx_file(tmp_path):
    p = tmp_path / "model.onnx"
    p.write_bytes(b"\x00garbage" * 100)
    with pytest.raises(fastdet.ModelError, match="cannot load it as an ONNX model"):
        fastdet.Detector(p)


def test_truncated_onnx(tmp_path, det):
    good = det.info.path.read_bytes()
    p = tmp_path / "truncated.onnx"
    p.write_bytes(good[: len(good) // 2])
    with pytest.raises(fastdet.ModelError):
        fastdet.Detector(p)


def test_onnx_that_is_not_a_detector(tmp_path):
    with pytest.raises(fastdet.ModelError, match="NCHW|detection head|detector"):
        fastdet.Detector(not_a_detector(tmp_path / "classifier.onnx"))


def test_wrong_head_for_metadata(tmp_path):
    # A pose-like output [1, 56, N] while metadata names one class: not a detector we decode.
    path = yolov8_like(tmp_path / "pose.onnx", np.zeros((64, 4), np.float32), np.zeros((52, 64), np.float32),
                       metadata={"names": "{0: 'person'}"})
    with pytest.raises(fastdet.ModelError, match="detection model"):
        fastdet.Detector(path)


def test_unsafe_names_metadata_is_not_evaluated(tmp_path):
    path = yolov8_like(tmp_path / "evil.onnx", np.zeros((64, 4), np.float32), np.zeros((2, 64), np.float32),
                       metadata={"names": "__import__('os').system('echo pwned')"})
    with pytest.raises(fastdet.ModelError, match="names"):
        fastdet.Detector(path)


def test_unknown_backend(det):
    with pytest.raises(ValueError, match="backend: expected"):
        fastdet.Detector(det.info.path, backend="magic")


def test_the_pillow_decoder_turns_images_upright_as_opencv_does(monkeypatch):
    """Without OpenCV, files are decoded by Pillow: a phone photo's EXIF orientation is applied as
    cv2.imdecode applies it, so the model sees the same pixels whichever decoder is installed."""
    import io
    import sys

    pytest.importorskip("cv2")
    Image = pytest.importorskip("PIL.Image")
    picture = np.zeros((40, 80, 3), np.uint8)
    picture[:20] = 200
    picture[:, :10] = 50
    im = Image.fromarray(picture)
    exif = im.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    buf = io.BytesIO()
    im.save(buf, "JPEG", exif=exif, quality=95)
    data = buf.getvalue()
    by_opencv = fastdet.frames.decode_image(data)
    monkeypatch.setitem(sys.modules, "cv2", None)  # as if OpenCV were not installed
    by_pillow = fastdet.frames.decode_image(data)
    assert by_opencv.shape == by_pillow.shape == (80, 40)
    assert not by_opencv.rgb and by_pillow.rgb
    assert np.abs(by_pillow.pixels[:, :, ::-1].astype(int) - by_opencv.pixels).max() <= 2
