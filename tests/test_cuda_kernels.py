"""CUDA kernels and pipeline vs the CPU core: letterbox, decode + NMS, graph replay, device inputs.

Every GPU test is marked ``gpu`` and skips where this build has no CUDA core, no GPU is usable,
or CuPy (and, where used, PyTorch) is missing. The one unmarked test checks the opposite case:
a CUDA build on a machine without a GPU fails with a clear error instead of crashing.
"""

from __future__ import annotations

import importlib
import warnings
import zlib

import numpy as np
import pytest

from fastdet import _core
from conftest import ASSETS
from synthetic_outputs import head_for, random_output

BUS = ASSETS / "images" / "bus.jpg"


def _gpu_build() -> bool:
    return bool(getattr(_core, "built_with_cuda", False)) and _core.cuda_available()


def _import_or_skip(name: str):
    # Importing GPU libraries can warn (driver/toolkit notes); the suite turns warnings into errors.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return importlib.import_module(name)
        except Exception as e:  # ImportError, or a broken install that fails to initialise
            pytest.skip(f"{name} not usable: {e}")


@pytest.fixture(scope="module")
def cp():
    if not _gpu_build():
        pytest.skip("needs a CUDA build of fastdet and a usable GPU")
    return _import_or_skip("cupy")


@pytest.fixture(scope="module")
def torch(cp):
    t = _import_or_skip("torch")
    if not t.cuda.is_available():
        pytest.skip("torch has no CUDA")
    return t


# ------------------------------------------------------------------------------------ no GPU


def test_cuda_build_without_gpu_raises_clear_error():
    if not getattr(_core, "built_with_cuda", False):
        pytest.skip("CPU-only build: no CUDA entry points")
    if _core.cuda_available():
        pytest.skip("a GPU is present")
    assert _core.cuda_available() is False
    engine = _core.cuda.CallableEngine(lambda *a: None)
    with pytest.raises(RuntimeError, match="no CUDA device"):
        _core.cuda.CudaPipeline(engine, _core.HeadSpec(_core.HeadFormat.YOLOV8, 80, 8400))
    with pytest.raises(RuntimeError, match="no CUDA device"):
        _core.cuda.letterbox([(1, 4, 4, 3)], 1, 640, 640, _core.Recipe())
    with pytest.raises(RuntimeError, match="no CUDA device"):
        _core.cuda.decode_nms(1, 1, _core.HeadSpec(), [_core.Geometry()], _core.DecodeOptions(), 1, 1)


# ----------------------------------------------------------------------------------- helpers


def stream_of(cp) -> int:
    return cp.cuda.get_current_stream().ptr


def recipes():
    ultra = _core.Recipe()
    yolox = _core.Recipe()
    yolox.placement = _core.Placement.TOP_LEFT
    yolox.scale = 1.0
    yolox.output_rgb = False
    imagenet = _core.Recipe()
    imagenet.placement = _core.Placement.STRETCH
    imagenet.mean = (0.485, 0.456, 0.406)
    imagenet.std = (0.229, 0.224, 0.225)
    noup = _core.Recipe()
    noup.scaleup = False
    return {"ultralytics": ultra, "yolox": yolox, "imagenet": imagenet, "noscaleup": noup}


def cpu_letterbox(frame, size, recipe, rgb):
    out = np.empty((3, *size), np.float32)
    g = _core.letterbox_into(frame, out, recipe, rgb)
    return out, g


def gpu_letterbox(cp, frames, size, recipe, rgb, dtype="float32", device_frames=None):
    dev = device_frames if device_frames is not None else [cp.asarray(f) for f in frames]
    out = cp.full((len(frames), 3, *size), np.nan, dtype=dtype)
    geoms = _core.cuda.letterbox(dev, out.data.ptr, size[0], size[1], recipe, out_dtype=dtype, rgb=rgb,
                                 stream=stream_of(cp))
    return cp.asnumpy(out), geoms


def same_geometry(a, b):
    fields = ("src_w", "src_h", "dst_w", "dst_h", "new_w", "new_h", "pad_x", "pad_y", "gain_x", "gain_y")
    return all(getattr(a, f) == getattr(b, f) for f in fields)


def load_bus_bgr():
    if not BUS.is_file():
        pytest.skip("bus.jpg not present")
    try:
        import cv2
        return cv2.imread(str(BUS))
    except ImportError:
        pass
    try:
        from PIL import Image
        return np.ascontiguousarray(np.asarray(Image.open(BUS).convert("RGB"))[:, :, ::-1])
    except ImportError:
        pass
    tv_io = _import_or_skip("torchvision.io")
    rgb = tv_io.read_image(str(BUS)).permute(1, 2, 0).numpy()
    return np.ascontiguousarray(rgb[:, :, ::-1])


def yolox_anchors(input_hw=(640, 640)):
    return sum((input_hw[0] // s) * (input_hw[1] // s) for s in (8, 16, 32))


def geometries(batch, input_hw=(640, 640), rng=None):
    rng = rng or np.random.default_rng(0)
    out = []
    for _ in range(batch):
        h, w = int(rng.integers(100, 2000)), int(rng.integers(100, 2000))
        out.append(_core.make_geometry(h, w, input_hw[0], input_hw[1], _core.Placement.CENTER, True))
    return out


def gpu_decode(cp, output, head, geoms, opts, classes=None, dtype="float32"):
    dev = cp.asarray(output.astype(dtype))
    B = output.shape[0]
    det = cp.full((B, opts.max_det, 6), np.nan, np.float32)
    stats = cp.full((B, 4), -1, np.int32)
    _core.cuda.decode_nms(dev.data.ptr, B, head, geoms, opts, det.data.ptr, stats.data.ptr, output_dtype=dtype,
                          classes=classes, stream=stream_of(cp))
    det, stats = cp.asnumpy(det), cp.asnumpy(stats)
    return [(det[b, :stats[b, 2], :4], det[b, :stats[b, 2], 4], det[b, :stats[b, 2], 5].astype(np.int32),
             tuple(stats[b, :4])) for b in range(B)]


def assert_decode_matches(cp, output, head, geoms, opts, classes=None, dtype="float32", box_rtol=0.0):
    ref_in = output.astype(dtype).astype(np.float32)  # what the kernel sees after fp16 rounding
    cpu = _core.decode(ref_in, head, geoms, opts, classes)
    gpu = gpu_decode(cp, output, head, geoms, opts, classes, dtype)
    for b, ((cb, cs, cc, st), (gb, gs, gc, gst)) in enumerate(zip(cpu, gpu)):
        assert gst == (st.candidates, st.dropped, st.kept, st.invalid), f"image {b}: stats"
        np.testing.assert_array_equal(gc, cc, err_msg=f"image {b}: classes / order")
        np.testing.assert_array_equal(gs, cs, err_msg=f"image {b}: scores / order")
        if box_rtol:
            np.testing.assert_allclose(gb, cb, rtol=box_rtol, atol=1e-3, err_msg=f"image {b}: boxes")
        else:
            np.testing.assert_array_equal(gb, cb, err_msg=f"image {b}: boxes")
    return cpu


def opts(conf=0.25, iou=0.7, max_det=300, max_candidates=30000, agnostic=False):
    return _core.DecodeOptions(conf, iou, max_det, max_candidates, agnostic)


# --------------------------------------------------------------------------------- letterbox

SIZES = [(480, 640), (1080, 1920), (1, 1), (7, 3), (640, 640), (1001, 1280), (333, 517), (2000, 100), (64, 4000)]


@pytest.mark.gpu
@pytest.mark.parametrize("recipe_name", ["ultralytics", "yolox", "imagenet", "noscaleup"])
@pytest.mark.parametrize("size", [(640, 640), (384, 640), (101, 203)])
def test_letterbox_matches_cpu_fp32(cp, recipe_name, size):
    rng = np.random.default_rng(zlib.crc32(f"{recipe_name}{size}".encode()))
    recipe = recipes()[recipe_name]
    for channels, rgb in ((3, False), (4, False), (3, True)):
        frames = [rng.integers(0, 256, (h, w, channels), dtype=np.uint8) for h, w in SIZES]
        gpu, geoms = gpu_letterbox(cp, frames, size, recipe, rgb)
        for i, f in enumerate(frames):
            ref, g = cpu_letterbox(f, size, recipe, rgb)
            assert same_geometry(geoms[i], g)
            # The same integer resize and float formula: bit for bit.
            np.testing.assert_array_equal(gpu[i], ref, err_msg=f"frame {f.shape}")


@pytest.mark.gpu
@pytest.mark.parametrize("batch", [1, 2, 5, 32, 33])
def test_letterbox_batches_fp16(cp, batch):
    rng = np.random.default_rng(batch)
    recipe = recipes()["ultralytics"]
    frames = [rng.integers(0, 256, (int(rng.integers(1, 1200)), int(rng.integers(1, 1200)), 3), dtype=np.uint8)
              for _ in range(batch)]
    gpu, _ = gpu_letterbox(cp, frames, (640, 640), recipe, False, dtype="float16")
    assert gpu.dtype == np.float16
    for i, f in enumerate(frames):
        ref, _ = cpu_letterbox(f, (640, 640), recipe, False)
        # The float32 result rounded to half (to nearest even, as numpy does).
        np.testing.assert_array_equal(gpu[i], ref.astype(np.float16), err_msg=f"frame {f.shape}")


@pytest.mark.gpu
def test_letterbox_strided_device_frames(cp):
    rng = np.random.default_rng(7)
    big = rng.integers(0, 256, (900, 1500, 3), dtype=np.uint8)
    crop = big[100:700, 200:1000]  # rows keep the parent's pitch
    dev_big = cp.asarray(big)
    dev_crop = dev_big[100:700, 200:1000]
    recipe = recipes()["ultralytics"]
    gpu, _ = gpu_letterbox(cp, [crop], (640, 640), recipe, False, device_frames=[dev_crop])
    ref, _ = cpu_letterbox(np.ascontiguousarray(crop), (640, 640), recipe, False)
    np.testing.assert_array_equal(gpu[0], ref)
    # The same frame as a raw (ptr, h, w, c, row_stride) tuple.
    tup = (dev_crop.data.ptr, 600, 800, 3, dev_big.strides[0])
    gpu2, _ = gpu_letterbox(cp, [crop], (640, 640), recipe, False, device_frames=[tup])
    np.testing.assert_array_equal(gpu2, gpu)


@pytest.mark.gpu
def test_letterbox_real_image(cp):
    bus = load_bus_bgr()
    for name, recipe in recipes().items():
        for dtype in ("float32", "float16"):
            gpu, geoms = gpu_letterbox(cp, [bus, bus[::2, ::2].copy()], (640, 640), recipe, False, dtype=dtype)
            for i, f in enumerate([bus, bus[::2, ::2].copy()]):
                ref, g = cpu_letterbox(f, (640, 640), recipe, False)
                assert same_geometry(geoms[i], g)
                np.testing.assert_array_equal(gpu[i], ref.astype(dtype), err_msg=f"{name} {dtype}")


# ------------------------------------------------------------------------------ decode + NMS


@pytest.mark.gpu
@pytest.mark.parametrize("fmt", ["yolov8", "yolov5", "yolox", "end2end"])
@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_decode_matches_cpu_every_format(cp, fmt, dtype):
    rng = np.random.default_rng(len(fmt) + len(dtype))
    n = {"yolov8": 8400, "yolov5": 25200, "yolox": yolox_anchors(), "end2end": 300}[fmt]
    nc = 80
    out = np.stack([random_output(fmt, n, nc, rng) for _ in range(3)])
    if fmt != "end2end":
        out[1] = random_output(fmt, n, nc, rng, hot=0)  # an image with no candidates
    head = head_for(fmt, n, nc)
    geoms = geometries(3, rng=rng)
    # Bit-identical on every format, YOLOX's e^x included (one exp formula on both sides).
    for o in (opts(), opts(iou=0.45, agnostic=True), opts(max_det=5), opts(conf=0.05)):
        assert_decode_matches(cp, out, head, geoms, o, dtype=dtype)
    assert_decode_matches(cp, out, head, geoms, opts(), classes=[0, 3, 17], dtype=dtype)


@pytest.mark.gpu
def test_decode_every_anchor_a_candidate_and_cap(cp):
    rng = np.random.default_rng(11)
    n, nc = 8400, 80
    out = random_output("yolov8", n, nc, rng)[None].copy()
    out[0, 4 + 7, :] = rng.uniform(0.3, 1.0, n)  # all 8400 above conf: device-wide sort path
    head, geoms = head_for("yolov8", n, nc), geometries(1, rng=rng)
    cpu = assert_decode_matches(cp, out, head, geoms, opts())
    assert cpu[0][3].candidates == n
    for cap in (1000, 2048, 2049, 5000):
        cpu = assert_decode_matches(cp, out, head, geoms, opts(max_candidates=cap))
        assert cpu[0][3].dropped == n - cap
    # 1280 input: 33600 anchors, more candidates than the default 30000 cap.
    n2 = 33600
    big = random_output("yolov8", n2, 4, rng, input_hw=(1280, 1280))[None].copy()
    big[0, 4, :] = rng.uniform(0.3, 1.0, n2)
    cpu = assert_decode_matches(cp, big, head_for("yolov8", n2, 4, (1280, 1280)), geometries(1, (1280, 1280)), opts())
    assert cpu[0][3].dropped == n2 - 30000


@pytest.mark.gpu
@pytest.mark.parametrize("agnostic", [False, True])
def test_decode_ties_and_duplicates(cp, agnostic):
    rng = np.random.default_rng(5)
    n, nc = 8400, 4
    out = random_output("yolov8", n, nc, rng, hot=3000)
    # Scores quantised to few values: many exact ties, broken by anchor index.
    out[4:] = np.round(out[4:] * 10) / 10
    # Exact duplicate boxes and identical-score duplicates.
    out[:4, 100:200] = out[:4, 50:51]
    out[4:, 100:200] = out[4:, 50:51]
    # Zero-area boxes.
    out[2:4, 300:320] = 0
    batch = np.stack([out, out[:, ::-1].copy(), np.zeros_like(out)])
    head = head_for("yolov8", n, nc)
    geoms = geometries(3, rng=rng)
    for o in (opts(agnostic=agnostic), opts(iou=0.0, agnostic=agnostic), opts(iou=1.0, agnostic=agnostic),
              opts(conf=0.0, agnostic=agnostic, max_det=1000)):
        assert_decode_matches(cp, batch, head, geoms, o)


@pytest.mark.gpu
def test_decode_batch_with_empty_images_and_reuse(cp):
    rng = np.random.default_rng(9)
    n, nc = 8400, 80
    head = head_for("yolov8", n, nc)
    for batch in (1, 8, 3, 16):  # workspace grows and is reused across shapes
        out = np.stack([random_output("yolov8", n, nc, rng, hot=int(rng.integers(0, 400))) for _ in range(batch)])
        out[::2, 4:] = 0.0
        assert_decode_matches(cp, out, head, geometries(batch, rng=rng), opts())


@pytest.mark.gpu
def test_decode_bad_arguments_raise(cp):
    head = head_for("yolov8", 8400, 80)
    d = cp.zeros((1, 84, 8400), np.float32)
    det = cp.zeros((1, 300, 6), np.float32)
    st = cp.zeros((1, 4), np.int32)
    with pytest.raises(ValueError, match="geometries"):
        _core.cuda.decode_nms(d.data.ptr, 1, head, [], opts(), det.data.ptr, st.data.ptr)
    with pytest.raises(TypeError, match="output_dtype"):
        _core.cuda.decode_nms(d.data.ptr, 1, head, geometries(1), opts(), det.data.ptr, st.data.ptr,
                              output_dtype="int8")
    with pytest.raises(ValueError, match="classes"):
        _core.cuda.decode_nms(d.data.ptr, 1, head, geometries(1), opts(), det.data.ptr, st.data.ptr, classes=[80])
    with pytest.raises(ValueError, match="out"):
        _core.cuda.letterbox([cp.zeros((4, 4, 3), np.uint8)], 0, 640, 640, _core.Recipe())
    with pytest.raises(TypeError, match="uint8"):
        _core.cuda.letterbox([cp.zeros((4, 4, 3), np.float32)], d.data.ptr, 64, 64, _core.Recipe())
    with pytest.raises(ValueError, match="channels"):
        _core.cuda.letterbox([cp.zeros((4, 4, 2), np.uint8)], d.data.ptr, 64, 64, _core.Recipe())
    host = np.zeros((4, 4, 3), np.uint8)
    with pytest.raises(ValueError, match="device memory"):
        _core.cuda.letterbox([(host.ctypes.data, 4, 4, 3)], d.data.ptr, 64, 64, _core.Recipe())


# ---------------------------------------------------------------------------------- pipeline


class DeviceView:
    """A raw device pointer as a __cuda_array_interface__ (version 2: no stream to sync)."""

    def __init__(self, ptr, shape, typestr):
        self.__cuda_array_interface__ = {"shape": tuple(shape), "typestr": typestr, "data": (ptr, False),
                                         "strides": None, "version": 2}


class RecordingEngine:
    """Copies the pipeline's input into `seen` and a preset head output into the output binding:
    stream-ordered, allocation-free copies, so it can be captured into a CUDA graph."""

    def __init__(self, cp, preset, input_shape, input_dtype=np.float32):
        self.cp = cp
        self.preset = cp.asarray(preset)
        self.seen = cp.zeros(input_shape, input_dtype)
        # Made on CuPy's legacy stream, read on the pipeline's non-blocking one: finish first.
        cp.cuda.Stream.null.synchronize()
        self.calls = 0

    def __call__(self, input_ptr, output_ptr, stream, batch):
        self.calls += 1
        rt = self.cp.cuda.runtime
        rt.memcpyAsync(self.seen.data.ptr, input_ptr, self.seen.nbytes // self.seen.shape[0] * batch,
                       rt.memcpyDeviceToDevice, stream)
        rt.memcpyAsync(output_ptr, self.preset.data.ptr, self.preset.nbytes // self.preset.shape[0] * batch,
                       rt.memcpyDeviceToDevice, stream)


def make_pipeline(cp, batch, *, capturable, use_graphs=True, fmt="yolov8", seed=0):
    rng = np.random.default_rng(seed)
    n = {"yolov8": 8400, "yolov5": 25200, "yolox": yolox_anchors(), "end2end": 300}[fmt]
    preset = np.stack([random_output(fmt, n, 80, rng) for _ in range(batch)])
    rec = RecordingEngine(cp, preset, (batch, 3, 640, 640))
    engine = _core.cuda.CallableEngine(rec, capturable)
    head = head_for(fmt, n, 80)
    pipe = _core.cuda.CudaPipeline(engine, head, (640, 640), _core.Recipe(), opts(), None, "float32", "float32", 0,
                                   use_graphs)
    return pipe, rec, preset, head


def check_pipeline_results(results, frames, preset, head, rec, cp, options=None):
    recipe = _core.Recipe()
    seen = cp.asnumpy(rec.seen)
    geoms = []
    for i, f in enumerate(frames):
        ref, g = cpu_letterbox(f, (640, 640), recipe, False)
        np.testing.assert_array_equal(seen[i], ref, err_msg=f"engine input {i}")
        assert same_geometry(results[i][4], g)
        geoms.append(g)
    cpu = _core.decode(preset.astype(np.float32), head, geoms, options or opts())
    for (cb, cs, cc, st), (gb, gs, gc, gst, _) in zip(cpu, results):
        assert (gst.candidates, gst.dropped, gst.kept, gst.invalid) == (st.candidates, st.dropped, st.kept, st.invalid)
        np.testing.assert_array_equal(gc, cc)
        np.testing.assert_array_equal(gs, cs)
        np.testing.assert_array_equal(gb, cb)


@pytest.mark.gpu
@pytest.mark.parametrize("capturable", [True, False])
@pytest.mark.parametrize("fmt", ["yolov8", "end2end"])
def test_pipeline_graph_replay_matches_eager(cp, capturable, fmt):
    rng = np.random.default_rng(3)
    sizes = [(480, 640, 3), (1080, 1920, 3), (720, 1280, 4)]
    pipe, rec, preset, head = make_pipeline(cp, len(sizes), capturable=capturable, fmt=fmt)
    eager, rec_e, _, _ = make_pipeline(cp, len(sizes), capturable=capturable, use_graphs=False, fmt=fmt)
    for it in range(4):  # warm-up, capture + replay, replays; new pixels every time
        frames = [rng.integers(0, 256, s, dtype=np.uint8) for s in sizes]
        res = pipe.run(frames)
        check_pipeline_results(res, frames, preset, head, rec, cp)
        ref = eager.run(frames)
        for a, b in zip(res, ref):
            for x, y in zip(a[:3], b[:3]):
                np.testing.assert_array_equal(x, y)
    assert pipe.eager_runs == 1 and pipe.graph_launches == 3 and pipe.graphs_cached == 1
    assert eager.graph_launches == 0 and eager.eager_runs == 4
    if capturable:
        assert rec.calls == 2  # warm-up and capture only: replays do not call Python
    else:
        assert rec.calls == 4
    # A new shape gets its own graph; a new option set drops the captured ones.
    frames = [rng.integers(0, 256, (300, 300, 3), dtype=np.uint8) for _ in sizes]
    for _ in range(2):
        check_pipeline_results(pipe.run(frames), frames, preset, head, rec, cp)
    assert pipe.graphs_cached == 2
    pipe.set_options(opts())
    assert pipe.graphs_cached == 0


@pytest.mark.gpu
def test_pipeline_device_frames_cupy_and_torch(cp, torch):
    rng = np.random.default_rng(4)
    sizes = [(480, 640, 3), (1080, 1920, 3)]
    pipe, rec, preset, head = make_pipeline(cp, len(sizes), capturable=True)
    frames = [rng.integers(0, 256, s, dtype=np.uint8) for s in sizes]
    host = pipe.run(frames)
    for _ in range(3):
        res = pipe.run_device([cp.asarray(f) for f in frames], stream=stream_of(cp))
        check_pipeline_results(res, frames, preset, head, rec, cp)
        for a, b in zip(res, host):
            np.testing.assert_array_equal(a[0], b[0])
    tensors = [torch.from_numpy(f).cuda() for f in frames]
    for _ in range(3):
        res = pipe.run_device(tensors, stream=torch.cuda.current_stream().cuda_stream)
        check_pipeline_results(res, frames, preset, head, rec, cp)
    # A strided crop (row pitch > width * 3) from torch.
    big = torch.from_numpy(rng.integers(0, 256, (1200, 2000, 3), dtype=np.uint8)).cuda()
    crops = [big[0:480, 0:640], big[100:1180, 50:1970]]
    res = pipe.run_device(crops, stream=torch.cuda.current_stream().cuda_stream)
    check_pipeline_results(res, [c.cpu().numpy() for c in crops], preset, head, rec, cp)


@pytest.mark.gpu
def test_pipeline_torch_model_engine(cp, torch):
    """A small PyTorch model as the engine (not capturable): pipeline results equal the CPU
    decode of the model's own output."""
    torch.manual_seed(0)
    model = torch.nn.Conv2d(3, 84, kernel_size=8, stride=8).cuda().eval()
    n = 80 * 80
    last = {}

    def engine(input_ptr, output_ptr, stream, batch):
        x = torch.as_tensor(DeviceView(input_ptr, (batch, 3, 640, 640), "<f4"), device="cuda")
        y = torch.as_tensor(DeviceView(output_ptr, (batch, 84, n), "<f4"), device="cuda")
        with torch.cuda.stream(torch.cuda.ExternalStream(stream)), torch.no_grad():
            raw = model(x).flatten(2)
            out = torch.cat([raw[:, :4].sigmoid() * 640, raw[:, 4:].sigmoid()], 1)
            y.copy_(out)
            last["out"] = out.clone()

    head = head_for("yolov8", n, 80)
    pipe = _core.cuda.CudaPipeline(_core.cuda.CallableEngine(engine, False), head, (640, 640), _core.Recipe(),
                                   opts(conf=0.5), None, "float32", "float32")
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8) for _ in range(2)]
    for _ in range(3):
        res = pipe.run(frames)
        torch.cuda.synchronize()
        geoms = [r[4] for r in res]
        cpu = _core.decode(last["out"].cpu().numpy(), head, geoms, opts(conf=0.5))
        for (cb, cs, cc, st), (gb, gs, gc, gst, _) in zip(cpu, res):
            assert gst.kept == st.kept and gst.candidates == st.candidates
            np.testing.assert_array_equal(gc, cc)
            np.testing.assert_array_equal(gb, cb)


@pytest.mark.gpu
def test_pipeline_errors_raise(cp):
    pipe, rec, _, _ = make_pipeline(cp, 1, capturable=False)
    with pytest.raises(TypeError, match="uint8"):
        pipe.run([np.zeros((10, 10, 3), np.float32)])
    with pytest.raises(ValueError, match="channels"):
        pipe.run([np.zeros((10, 10, 2), np.uint8)])
    with pytest.raises(ValueError, match="at least one frame"):
        pipe.run([])
    with pytest.raises(ValueError, match="device memory"):
        host = np.zeros((10, 10, 3), np.uint8)
        pipe.run_device([(host.ctypes.data, 10, 10, 3)])
    with pytest.raises(ValueError, match="classes"):
        pipe.set_options(opts(), [1000])
    with pytest.raises(TypeError, match="input_dtype"):
        _core.cuda.CudaPipeline(_core.cuda.CallableEngine(rec), head_for("yolov8", 8400, 80), input_dtype="int8")

    def broken(*args):
        raise ZeroDivisionError("engine failed")

    bad = _core.cuda.CudaPipeline(_core.cuda.CallableEngine(broken, True), head_for("yolov8", 8400, 80))
    frame = np.zeros((100, 100, 3), np.uint8)
    for _ in range(3):  # each run is an eager warm-up (a failed one caches nothing): raises, no crash
        with pytest.raises(ZeroDivisionError, match="engine failed"):
            bad.run([frame])
    # The working pipeline still works after errors elsewhere.
    assert len(pipe.run([frame])) == 1


@pytest.mark.gpu
def test_pipeline_refused_batch_leaves_no_stale_graph(cp):
    """A batch that decode refuses (batch * max_det above the device row bound) is refused before
    any buffer grows: the graph captured for batch 1 still points at live buffers, and the next
    batch-1 call replays it with the right results (it used to replay on freed memory)."""
    rng = np.random.default_rng(14)
    preset = np.stack([random_output("yolov8", 8400, 80, rng)])
    rec = RecordingEngine(cp, preset, (1, 3, 640, 640))
    head = head_for("yolov8", 8400, 80)
    options = opts(max_det=1 << 20)
    pipe = _core.cuda.CudaPipeline(_core.cuda.CallableEngine(rec, True), head, (640, 640), _core.Recipe(),
                                   options, None, "float32", "float32", 0, True)
    frame = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    for _ in range(2):  # warm-up, then capture and launch
        check_pipeline_results(pipe.run([frame]), [frame], preset, head, rec, cp, options)
    with pytest.raises(ValueError, match="max_det"):
        pipe.run([frame] * 17)
    for _ in range(2):
        frame = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
        check_pipeline_results(pipe.run([frame]), [frame], preset, head, rec, cp, options)
    assert pipe.graph_launches == 3 and pipe.graphs_cached == 1

@pytest.mark.gpu
def test_pipeline_capture_failure_runs_eagerly_once_marked(cp):
    """An engine that works eagerly but breaks under capture (here: a host synchronisation,
    which a graph cannot hold): that shape is captured once, fails, and runs eagerly from then
    on with correct results, instead of failing on every later call."""
    rng = np.random.default_rng(12)
    preset = np.stack([random_output("yolov8", 8400, 80, rng)])
    rec = RecordingEngine(cp, preset, (1, 3, 640, 640))
    capture_attempts = []

    def engine(input_ptr, output_ptr, stream, batch):
        if cp.cuda.runtime.streamIsCapturing(stream):
            capture_attempts.append(1)
            cp.cuda.runtime.streamSynchronize(stream)  # not allowed while capturing: raises
        rec(input_ptr, output_ptr, stream, batch)

    head = head_for("yolov8", 8400, 80)
    pipe = _core.cuda.CudaPipeline(_core.cuda.CallableEngine(engine, True), head, (640, 640), _core.Recipe(),
                                   opts(), None, "float32", "float32", 0, True)
    for _ in range(5):
        frames = [rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)]
        check_pipeline_results(pipe.run(frames), frames, preset, head, rec, cp)
    assert len(capture_attempts) == 1
    assert pipe.capture_failures == 1 and pipe.last_capture_error
    assert pipe.graph_launches == 0 and pipe.eager_runs == 5
    # Another shape is tried on its own.
    frames = [rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)]
    for _ in range(2):
        check_pipeline_results(pipe.run(frames), frames, preset, head, rec, cp)
    assert len(capture_attempts) == 2 and pipe.capture_failures == 2


@pytest.mark.gpu
def test_pipeline_set_options_while_running_does_not_deadlock(cp):
    """set_options / use_graphs from one thread while another is inside run() with a Python
    engine: the setter must not hold the GIL while waiting for the pipeline's lock."""
    import threading
    import time

    rng = np.random.default_rng(13)
    preset = np.stack([random_output("yolov8", 8400, 80, rng)])
    rec = RecordingEngine(cp, preset, (1, 3, 640, 640))
    entered = threading.Event()

    def slow_engine(input_ptr, output_ptr, stream, batch):
        entered.set()
        time.sleep(0.2)  # holds the pipeline's lock while the other thread calls the setters
        rec(input_ptr, output_ptr, stream, batch)

    head = head_for("yolov8", 8400, 80)
    pipe = _core.cuda.CudaPipeline(_core.cuda.CallableEngine(slow_engine, False), head, (640, 640), _core.Recipe(),
                                   opts(), None, "float32", "float32", 0, True)
    frame = rng.integers(0, 256, (200, 300, 3), dtype=np.uint8)
    done = []
    worker = threading.Thread(target=lambda: done.append(pipe.run([frame])))
    worker.start()
    assert entered.wait(10)
    pipe.set_options(opts(conf=0.3))
    pipe.use_graphs = False
    worker.join(10)
    assert not worker.is_alive() and len(done) == 1
    assert pipe.use_graphs is False


@pytest.mark.gpu
@pytest.mark.parametrize("cap", [30000, 2500, 1000])
def test_decode_batch_mixing_large_and_small_candidate_sets(cp, cap):
    """Images above and below the in-block sort limit (2048 candidates) in one batch: the large
    ones are sorted by the multi-block rank sort, the others inside the NMS block."""
    rng = np.random.default_rng(14)
    n, nc = 8400, 80
    hot = (8400, 150, 3000, 2049, 0, 2048)
    out = np.stack([random_output("yolov8", n, nc, rng, hot=h) for h in hot])
    out[0, 4 + 3, :] = rng.uniform(0.3, 1.0, n)  # every anchor a candidate
    cpu = assert_decode_matches(cp, out, head_for("yolov8", n, nc), geometries(len(hot), rng=rng),
                                opts(max_candidates=cap))
    assert cpu[0][3].candidates == n and max(r[3].candidates for r in cpu[1:]) > 2048


@pytest.mark.gpu
def test_decode_drops_malformed_rows_as_the_cpu_does(cp):
    """NaN/inf coordinates, inverted boxes, infinite scores and end-to-end class ids out of range:
    dropped and counted identically on both paths (the rule lives in the shared anchor header)."""
    rng = np.random.default_rng(15)
    n, nc = 8400, 80
    out = random_output("yolov8", n, nc, rng, hot=400)[None].copy()
    hot = np.flatnonzero(out[0, 4:].max(0) > 0.25)
    out[0, 0, hot[:40]] = np.nan
    out[0, 2, hot[40:80]] = -out[0, 2, hot[40:80]]
    out[0, 3, hot[80:90]] = np.inf
    out[0, 4, hot[90:95]] = np.inf
    cpu = assert_decode_matches(cp, out, head_for("yolov8", n, nc), geometries(1, rng=rng), opts())
    assert cpu[0][3].invalid >= 90
    e2e = random_output("end2end", 300, nc, rng)[None].copy()
    e2e[0, :50, 5] = np.nan
    e2e[0, 50:60, 5] = 1e10
    e2e[0, 60:70, 5] = -3
    cpu = assert_decode_matches(cp, e2e, head_for("end2end", 300, nc), geometries(1, rng=rng), opts(conf=0.0))
    assert cpu[0][3].invalid == 70
