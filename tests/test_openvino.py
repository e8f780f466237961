"""The OpenVINO CPU backend: model sources (ONNX, IR, ultralytics export folders), buffers shared
with the infer requests, batching (dynamic, fixed and padded, LATENCY and THROUGHPUT), options,
the compiled-model cache, and its choice by ``backend="auto"``. Skipped where openvino is not
installed."""

from __future__ import annotations

import logging
import sys

import numpy as np
import pytest

import fastdet
from fastdet import backends
from fastdet.backends import BackendUnavailable
from fastdet.backends.openvino_model import METADATA_FILE, write_ir
from fastdet.cli import main
from tiny_models import yolov8_like

ov = pytest.importorskip("openvino", reason="the OpenVINO backend needs openvino (pip install 'fastdet[cpu]')")

NAMES = "{0: 'person', 1: 'car'}"
BOXES = np.array([[20, 20, 16, 16], [21, 20, 16, 16], [48, 44, 10, 20]] + [[32, 32, 8, 8]] * 5, np.float32)
WEIGHTS = np.zeros((2, 8), np.float32)
WEIGHTS[0, :2] = [0.9, 0.8]
WEIGHTS[1, 2] = 0.7


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Dynamic batch, 64x64, metadata names."""
    return yolov8_like(tmp_path_factory.mktemp("ov") / "tiny.onnx", BOXES, WEIGHTS,
                       metadata={"names": NAMES, "imgsz": "[64, 64]", "task": "detect"})


@pytest.fixture(scope="module")
def ir_folder(tiny, tmp_path_factory):
    """tiny as an ultralytics-style export folder: model.xml + model.bin + metadata.yaml."""
    folder = tmp_path_factory.mktemp("ov") / "tiny_openvino_model"
    write_ir(ov.convert_model(str(tiny)), folder, {"names": NAMES, "imgsz": "[64, 64]", "task": "detect",
                                                    "stride": "32"})
    return folder


def frames(n, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(60 + 20 * i, 256, (int(rng.integers(30, 200)), int(rng.integers(30, 200)), 3), np.uint8)
            for i in range(n)]


def assert_same(a, b, score_atol=1e-5, box_atol=1e-3):
    """Same kept set and order; scores within float32 reduction-order differences."""
    assert len(a) == len(b) > 0
    np.testing.assert_array_equal(a.class_ids, b.class_ids)
    np.testing.assert_allclose(a.scores, b.scores, atol=score_atol)
    np.testing.assert_allclose(a.xyxy, b.xyxy, atol=box_atol)


# ------------------------------------------------------------------------------- sources


def test_onnx_matches_onnxruntime(tiny):
    det = fastdet.Detector(tiny, backend="openvino-cpu", precision="fp32")
    ref = fastdet.Detector(tiny, backend="onnxruntime-cpu")
    assert det.backend == "openvino-cpu" and det.names == {0: "person", 1: "car"}
    assert det._backend.source == "onnx"
    for f in frames(4):
        assert_same(det.detect(f), ref.detect(f))


def test_export_folder_and_bare_ir(ir_folder, tiny):
    ref = fastdet.Detector(tiny, backend="onnxruntime-cpu")
    folder = fastdet.Detector(ir_folder, precision="fp32")  # auto: only OpenVINO reads IR
    assert folder.backend == "openvino-cpu" and folder._backend.source == "ultralytics-folder"
    assert folder.names == {0: "person", 1: "car"} and folder.input_size == (64, 64)
    (frame,) = frames(1)
    assert_same(folder.detect(frame), ref.detect(frame))
    # The bare .xml, moved away from metadata.yaml, still has its names (the IR's rt_info).
    bare_dir = ir_folder.parent / "bare"
    bare_dir.mkdir(exist_ok=True)
    for suffix in (".xml", ".bin"):
        (bare_dir / f"model{suffix}").write_bytes((ir_folder / f"model{suffix}").read_bytes())
    bare = fastdet.Detector(bare_dir / "model.xml", precision="fp32")
    assert bare._backend.source == "ir" and bare.names == {0: "person", 1: "car"}
    assert_same(bare.detect(frame), ref.detect(frame))


def test_metadata_yaml_is_read(ir_folder, tmp_path):
    folder = tmp_path / "renamed_openvino_model"
    folder.mkdir()
    for suffix in (".xml", ".bin"):
        (folder / f"best{suffix}").write_bytes((ir_folder / f"model{suffix}").read_bytes())
    (folder / METADATA_FILE).write_text("task: detect\nstride: 32\nimgsz:\n- 64\n- 64\nnames:\n  0: person\n  1: bicycle\n")
    assert fastdet.Detector(folder).names == {0: "person", 1: "bicycle"}
    (folder / METADATA_FILE).write_text("task: segment\nnames:\n  0: person\n  1: bicycle\n")
    with pytest.raises(fastdet.ModelError, match="task is 'segment'"):
        fastdet.Detector(folder)


def test_bad_ir_sources(ir_folder, tmp_path):
    empty = tmp_path / "empty_openvino_model"
    empty.mkdir()
    with pytest.raises(fastdet.ModelError, match="is a folder without an OpenVINO IR"):
        fastdet.Detector(empty)
    two = tmp_path / "two_openvino_model"
    two.mkdir()
    for name in ("a", "b"):
        for suffix in (".xml", ".bin"):
            (two / f"{name}{suffix}").write_bytes((ir_folder / f"model{suffix}").read_bytes())
    with pytest.raises(fastdet.ModelError, match="expected one OpenVINO IR .* found a.xml, b.xml"):
        fastdet.Detector(two)
    lonely = tmp_path / "lonely.xml"
    lonely.write_bytes((ir_folder / "model.xml").read_bytes())
    with pytest.raises(fastdet.ModelError, match="lonely.bin not found"):
        fastdet.Detector(lonely)
    garbage = tmp_path / "garbage.xml"
    garbage.write_text("<net>not really</net>")
    garbage.with_suffix(".bin").write_bytes(b"\0" * 16)
    with pytest.raises(fastdet.ModelError, match="OpenVINO cannot load it as an OpenVINO IR"):
        fastdet.Detector(garbage)


def test_onnx_only_backends_refuse_ir(ir_folder, monkeypatch):
    with pytest.raises(ValueError, match="reads ONNX files.*use backend='openvino-cpu'"):
        fastdet.Detector(ir_folder, backend="onnxruntime-cpu")
    monkeypatch.setitem(sys.modules, "openvino", None)
    with pytest.raises(BackendUnavailable, match="openvino-cpu: openvino is not.*onnxruntime-cpu: reads ONNX files only"):
        fastdet.Detector(ir_folder)


def test_dynamic_size_model_runs_at_its_imgsz(tmp_path):
    path = yolov8_like(tmp_path / "dyn.onnx", BOXES, WEIGHTS, size="s",
                       metadata={"names": NAMES, "imgsz": "[96, 128]"})
    det = fastdet.Detector(path, backend="openvino-cpu", precision="fp32")
    ref = fastdet.Detector(path, backend="onnxruntime-cpu")
    assert det.input_size == ref.input_size == (96, 128)
    (frame,) = frames(1)
    assert_same(det.detect(frame), ref.detect(frame))


# ------------------------------------------------------------------------------- buffers and batching


def test_buffers_are_the_requests_tensors_and_are_reused(tiny):
    det = fastdet.Detector(tiny, backend="openvino-cpu", hint="latency")
    b = det._backend
    with b.lease(1) as lease:
        buf = lease.input
        out = lease.run()
        request = lease._slot.latency_request
    assert request.get_input_tensor().data.ctypes.data == buf.ctypes.data
    assert request.get_output_tensor().data.ctypes.data == out.ctypes.data
    det.detect(frames(1)[0])
    with b.lease(1) as lease:  # one caller at a time: the same slot comes back, nothing new allocated
        assert lease.input.ctypes.data == buf.ctypes.data and lease.run().ctypes.data == out.ctypes.data
    assert b.slots.size == 1


@pytest.mark.parametrize("hint", ["auto", "latency", "throughput"])
def test_batches_match_single_frames(tiny, hint):
    det = fastdet.Detector(tiny, backend="openvino-cpu", hint=hint, precision="fp32")
    fs = frames(5)
    batch = det.detect(fs)
    for f, d in zip(fs, batch):
        assert_same(d, det.detect(f))
    # Scores follow each frame's brightness: a mix-up of sub-batches would show.
    assert len({round(float(d.scores[0]), 5) for d in batch}) == 5


def test_throughput_call_waits_for_every_request_when_one_fails(tiny):
    """A failed infer request must not return the slot while its other requests still write into
    the slot's buffers: every started request is waited for, then the failure is raised."""
    det = fastdet.Detector(tiny, backend="openvino-cpu", hint="throughput", precision="fp32")
    det.detect(frames(5))  # makes the slot's throughput requests

    class Request:
        def __init__(self, real, fails):
            self.real, self.fails, self.waited = real, fails, 0

        def __getattr__(self, name):
            return getattr(self.real, name)

        def wait(self):
            self.waited += 1
            self.real.wait()
            if self.fails:
                raise RuntimeError("infer request failed")

    with det._backend.lease(5) as lease:
        slot = lease._slot
        if len(slot.throughput_requests) < 2:
            pytest.skip("OpenVINO made one throughput stream here")
        wrapped = [Request(r, fails=i == 0) for i, r in enumerate(slot.throughput_requests)]
        slot.throughput_requests = wrapped
        with pytest.raises(RuntimeError, match="infer request failed"):
            lease.run()
        assert all(r.waited >= 1 for r in wrapped)
        slot.throughput_requests = [r.real for r in wrapped]


def test_fixed_batch_model_is_padded(tmp_path):
    from onnx import TensorProto, helper

    path = yolov8_like(tmp_path / "b2.onnx", BOXES, WEIGHTS, dynamic_batch=False, metadata={"names": NAMES})
    import onnx

    m = onnx.load(str(path))  # batch 1 -> a fixed batch of 2
    for vi in (m.graph.input[0], m.graph.output[0]):
        vi.type.tensor_type.shape.dim[0].dim_value = 2
    onnx.save(m, str(path))
    assert TensorProto and helper  # the model is still a plain ONNX file
    for hint in ("latency", "throughput"):
        det = fastdet.Detector(path, backend="openvino-cpu", hint=hint, precision="fp32")
        fs = frames(3)
        batch = det.detect(fs)
        assert len(batch) == 3
        with det._backend.lease(3) as lease:
            assert lease.input.shape[0] == 3
            assert lease._slot.input.shape[0] == 4  # two requests of the model's batch 2
        ref = fastdet.Detector(path, backend="onnxruntime-cpu")
        for f, d in zip(fs, batch):
            assert_same(d, ref.detect(f))


# ------------------------------------------------------------------------------- options


def test_threads_and_precision_reach_openvino(tiny):
    det = fastdet.Detector(tiny, backend="openvino-cpu", threads=1, precision="fp32", hint="latency")
    compiled = det._backend._compiled["latency"]
    assert compiled.get_property("INFERENCE_NUM_THREADS") == 1
    assert det._backend.inference_precision == "f32"
    assert str(compiled.get_property("PERFORMANCE_HINT")) == "LATENCY"


@pytest.mark.parametrize("options, error, match", [
    ({"hint": "fast"}, fastdet.InputError, "hint: expected"),
    ({"precision": "int4"}, fastdet.InputError, "precision: expected"),
    ({"threads": 0}, fastdet.InputError, "threads: expected"),
    ({"threads": "2"}, fastdet.InputTypeError, "threads: expected"),
    ({"cache_dir": 3}, fastdet.InputTypeError, "cache_dir: expected"),
    ({"workspace_mb": 64}, fastdet.InputError, "not an option of backend 'openvino-cpu'"),
])
def test_bad_options(tiny, options, error, match):
    with pytest.raises(error, match=match):
        fastdet.Detector(tiny, backend="openvino-cpu", **options)


def test_compiled_model_cache(tiny, tmp_path):
    cache = tmp_path / "cache"
    first = fastdet.Detector(tiny, backend="openvino-cpu", cache_dir=cache)
    blobs = sorted(cache.glob("*.blob"))
    assert blobs, "OpenVINO wrote no cache entry"
    (frame,) = frames(1)
    want = first.detect(frame)
    assert_same(fastdet.Detector(tiny, backend="openvino-cpu", cache_dir=cache).detect(frame), want)
    for blob in blobs:  # a damaged entry is recompiled, not trusted
        blob.write_bytes(b"\0garbage" * 64)
    assert_same(fastdet.Detector(tiny, backend="openvino-cpu", cache_dir=cache).detect(frame), want)
    off = fastdet.Detector(tiny, backend="openvino-cpu", cache_dir=False)
    assert off._backend.cache_dir is None


# ------------------------------------------------------------------------------- selection and info


def test_auto_prefers_openvino_then_falls_back(tiny, monkeypatch, caplog):
    monkeypatch.setattr(fastdet._core, "cuda_available", lambda: False)
    assert fastdet.Detector(tiny).backend == "openvino-cpu"
    assert fastdet.Detector(tiny, device="cpu").backend == "openvino-cpu"
    monkeypatch.setitem(sys.modules, "openvino", None)
    with caplog.at_level(logging.DEBUG, logger="fastdet"):
        assert fastdet.Detector(tiny).backend == "onnxruntime-cpu"
    assert any("openvino-cpu skipped: openvino is not installed" in r.getMessage() for r in caplog.records)
    assert backends.availability()["openvino-cpu"].startswith("openvino is not installed")


def test_info_names_openvino_and_reads_ir(ir_folder, capsys):
    assert main(["info", str(ir_folder)]) == 0
    out = capsys.readouterr().out
    assert "0=person" in out and "openvino-cpu       available" in out
    assert f"openvino:  {ov.get_version().split('-')[0]} on CPU" in out
    assert main(["info", str(ir_folder), "--json"]) == 0
    import json

    assert json.loads(capsys.readouterr().out)["openvino"]["version"] == ov.get_version().split("-")[0]


# ------------------------------------------------------------------------------- real models


def _iou(box, boxes):
    x1, y1 = np.maximum(box[0], boxes[:, 0]), np.maximum(box[1], boxes[:, 1])
    x2, y2 = np.minimum(box[2], boxes[:, 2]), np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = lambda b: (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])  # noqa: E731
    return inter / (area(box) + area(boxes) - inter)


@pytest.mark.assets
def test_real_images_match_onnxruntime(assets):
    """yolov8n_w8 on 16 coco128 images and the two sample photos: with precision="fp32" the kept
    sets equal ONNX Runtime's (scores within 2e-4, boxes within 0.05 px); with OpenVINO's
    default (bf16 on AMX/AVX512-BF16 CPUs) over 95% of the boxes scoring above 0.3 have a
    same-class twin in the other set with IoU > 0.8 and a score within 0.05 (the head's DFL and
    box arithmetic run in bf16 too: a corner moved 7 px on a 37-px-wide box, scores up to 0.031,
    and NMS can keep a different one of two overlapping boxes)."""
    from fastdet.quality.yolo_data import list_images

    model = assets / "models" / "yolov8n_w8.onnx"
    ref = fastdet.Detector(model, backend="onnxruntime-cpu")
    exact = fastdet.Detector(model, backend="openvino-cpu", precision="fp32")
    default = fastdet.Detector(model, backend="openvino-cpu")
    images = list_images(assets / "datasets" / "coco128_val2017")[:16] + [assets / "images" / "bus.jpg",
                                                                          assets / "images" / "zidane.jpg"]
    twins: list[bool] = []
    for path in images:
        want = ref.detect(path)
        got = exact.detect(path)
        assert len(got) == len(want), path.name
        np.testing.assert_array_equal(got.class_ids, want.class_ids)
        np.testing.assert_allclose(got.scores, want.scores, atol=2e-4)
        np.testing.assert_allclose(got.xyxy, want.xyxy, atol=0.05)
        bf16 = default.detect(path)
        for a, b in ((bf16, want), (want, bf16)):  # each confident box has a twin in the other set
            for box, score, cls in zip(a.xyxy, a.scores, a.class_ids):
                if score > 0.3:
                    ious = np.where(b.class_ids == cls, _iou(box, b.xyxy), 0.0) if len(b) else np.zeros(1)
                    j = int(ious.argmax())
                    twins.append(bool(ious[j] > 0.8 and abs(score - b.scores[j]) < 0.05))
    assert np.mean(twins) > 0.95, f"{np.mean(twins):.3f} of confident boxes have a bf16/fp32 twin"


# ------------------------------------------------------------------------------- signals

SIGNAL_AFTER_DROPPED_DETECTORS = r"""
import gc, signal, sys, threading
import numpy as np
import fastdet

path = sys.argv[1]
frame = np.full((64, 64, 3), 90, np.uint8)
a = fastdet.Detector(path, backend="openvino-cpu")
a.detect(frame)
b = fastdet.Detector(path, backend="openvino-cpu")
b.detect(frame)
del a  # dropped in the order they were made, not the reverse
gc.collect()
del b
gc.collect()
c = fastdet.Detector(path, backend="openvino-cpu")
c.detect(frame)
dropper = threading.Thread(target=lambda box: box.clear(), args=([c],))
del c  # the last reference goes in another thread
dropper.start()
dropper.join()
gc.collect()

main = threading.main_thread().ident
blocked = threading.Lock()
blocked.acquire()
threading.Timer(0.2, signal.pthread_kill, (main, signal.SIGINT)).start()
try:
    blocked.acquire(timeout=30)
    print("no interrupt")
except KeyboardInterrupt:
    print("interrupted")
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="signal stacks as Linux sets them")
def test_ctrl_c_after_detectors_are_dropped_is_a_keyboard_interrupt(tiny, tmp_path):
    """Detectors dropped in any order, from any thread, leave the process able to take Ctrl-C:
    each used to own an OpenVINO Core, whose CPU plugin swaps the creating thread's signal stack
    and unmaps it when the Core goes, so a SIGINT after that was a segfault (exit -11)."""
    import subprocess

    script = tmp_path / "signal_after_drop.py"
    script.write_text(SIGNAL_AFTER_DROPPED_DETECTORS)
    done = subprocess.run([sys.executable, str(script), str(tiny)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-2000:]}"
    assert done.stdout.split() == ["interrupted"]
