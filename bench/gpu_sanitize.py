"""A small run of every CUDA kernel path, for compute-sanitizer (memcheck, racecheck).

    compute-sanitizer --tool memcheck python bench/gpu_sanitize.py

Letterbox (fp32 and fp16, 3 and 4 channels, odd sizes), decode + NMS on the in-block sort path
(~150 candidates) and on the device-wide one (every anchor a candidate), and a pipeline run with
graph capture and replay. Sizes are small: the sanitizer slows kernels by 10-100x.
"""

from __future__ import annotations

import sys
import warnings

import numpy as np

warnings.simplefilter("ignore")
import cupy as cp  # noqa: E402

from fastdet import _core  # noqa: E402


def main() -> int:
    rng = np.random.default_rng(0)
    stream = cp.cuda.Stream(non_blocking=True)
    frames = [cp.asarray(rng.integers(0, 256, s, dtype=np.uint8)) for s in ((37, 53, 3), (480, 640, 4), (1, 1, 3))]
    for dtype in ("float32", "float16"):
        out = cp.empty((len(frames), 3, 64, 96), dtype)
        _core.cuda.letterbox(frames, out.data.ptr, 64, 96, _core.Recipe(), out_dtype=dtype, stream=stream.ptr)
    stream.synchronize()

    n, nc = 8400, 80
    head = _core.HeadSpec(_core.HeadFormat.YOLOV8, nc, n, 640, 640, [8, 16, 32])
    geoms = [_core.make_geometry(480, 640, 640, 640, _core.Placement.CENTER, True)] * 2
    opts = _core.DecodeOptions(0.25, 0.7, 300, 30000, False)
    for hot in (150, 1000, n):  # one key per thread, eight per thread (several NMS steps), device sort
        host = np.concatenate([rng.uniform(0, 640, (4, n)), rng.uniform(0, 0.2, (nc, n))]).astype(np.float32)
        idx = rng.choice(n, hot, replace=False)
        host[4 + rng.integers(0, nc, hot), idx] = rng.uniform(0.3, 1.0, hot)
        dev = cp.asarray(np.stack([host, host]))
        det = cp.empty((2, 300, 6), cp.float32)
        stats = cp.empty((2, 4), cp.int32)
        _core.cuda.decode_nms(dev.data.ptr, 2, head, geoms, opts, det.data.ptr, stats.data.ptr, stream=stream.ptr)
        stream.synchronize()
        print(f"decode {hot} candidates: kept {cp.asnumpy(stats)[:, 2].tolist()}")

    preset = cp.asarray(np.stack([host]))

    def engine(input_ptr, output_ptr, s, b):
        cp.cuda.runtime.memcpyAsync(output_ptr, preset.data.ptr, preset.nbytes * b,
                                    cp.cuda.runtime.memcpyDeviceToDevice, s)

    pipe = _core.cuda.CudaPipeline(_core.cuda.CallableEngine(engine, True), head, (640, 640), _core.Recipe(), opts,
                                   None, "float16", "float32", 0, True)
    frame = rng.integers(0, 256, (120, 200, 3), dtype=np.uint8)
    for _ in range(3):  # eager warm-up, capture, replay
        res = pipe.run([frame])
    print(f"pipeline: kept {len(res[0][0])}, graph launches {pipe.graph_launches}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
