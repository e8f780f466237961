"""GPU micro-benchmarks of the CUDA core, each with a reference measured in the same run.

    python bench/gpu_bench.py --out OUTDIR/gpu_bench.json [--iters 200]

Needs a CUDA build of fastdet, a GPU, CuPy, PyTorch and torchvision. Timings are CUDA events
around the enqueued work on one stream (device time), median over --iters (>= 100) runs after a
warm-up; the pipeline rows are host wall-clock per call (they include the one synchronisation).

  letterbox     1080p uint8 BGR -> 640x640 fp16 CHW at batch 1 and 32; effective bandwidth
                (full source frame read + output written) against a device-to-device copy of
                the same bytes
  decode_nms    [1, 84, 8400] YOLOv8 output with ~150 and with 8400 candidates; against
                torchvision.ops.batched_nms on the same candidates (NMS only), and a torch
                decode (max over classes, threshold, batched_nms, top 300)
  pipeline      pre + post per frame: host 1080p frames -> results, with a CUDA graph, engine =
                a copy of a preset output (graph covers everything) and a small torch model
                (not capturable: graphs around it); model time alone subtracted
  h2d           1080p uint8 host -> device from pageable vs pinned memory
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
import warnings

import numpy as np

warnings.simplefilter("ignore")

import cupy as cp  # noqa: E402
import torch  # noqa: E402
import torchvision  # noqa: E402

from fastdet import _core  # noqa: E402

FRAME_HW = (1080, 1920)
INPUT_HW = (640, 640)


def summary(ms: list[float]) -> dict:
    s = sorted(ms)
    return {"median_ms": statistics.median(s), "p10_ms": s[len(s) // 10], "p90_ms": s[(len(s) * 9) // 10],
            "n": len(s)}


def time_device(fn, stream, iters: int, warmup: int = 10, reps: int = 20, capture: bool = True) -> dict:
    """Device time of one fn() (which enqueues on `stream`), per call.

    Host-side work between calls (argument parsing, waits) must not count, so calls are timed in
    groups of `reps`: first as one captured CUDA graph replayed between two events (pure device
    time), and where capture is refused, back to back between two events (device time plus any
    launch gaps the host leaves). The median of iters // reps groups, divided by reps."""
    for _ in range(warmup):
        fn()
    stream.synchronize()
    groups = max(10, iters // reps)
    method = "graph"
    try:
        if not capture:
            raise NotImplementedError("not captured")
        stream.begin_capture()
        try:
            for _ in range(reps):
                fn()
        finally:
            graph = stream.end_capture()
        graph.launch(stream)
        stream.synchronize()
        run = lambda: graph.launch(stream)  # noqa: E731
    except Exception as e:  # capture refused (a host copy, a sync inside fn): time the calls themselves
        method = f"back-to-back ({type(e).__name__})"
        stream.synchronize()

        def run():
            for _ in range(reps):
                fn()
    pairs = []
    for _ in range(groups):
        a, b = cp.cuda.Event(), cp.cuda.Event()
        a.record(stream)
        run()
        b.record(stream)
        pairs.append((a, b))
    stream.synchronize()
    out = summary([cp.cuda.get_elapsed_time(a, b) / reps for a, b in pairs])
    out["method"] = method
    return out


def time_host(fn, iters: int, warmup: int = 5) -> dict:
    for _ in range(warmup):
        fn()
    ms = []
    for _ in range(iters):
        t = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - t) * 1e3)
    return summary(ms)


def gbps(nbytes: float, ms: float) -> float:
    return nbytes / (ms * 1e-3) / 1e9


def bench_letterbox(stream, iters: int) -> dict:
    rng = np.random.default_rng(0)
    recipe = _core.Recipe()
    out = {}
    for batch in (1, 32):
        frames = [cp.asarray(rng.integers(0, 256, (*FRAME_HW, 3), dtype=np.uint8)) for _ in range(batch)]
        dst = cp.empty((batch, 3, *INPUT_HW), cp.float16)
        src_bytes = batch * FRAME_HW[0] * FRAME_HW[1] * 3
        dst_bytes = dst.nbytes
        copy_src = cp.empty(src_bytes + dst_bytes, cp.uint8)
        copy_dst = cp.empty_like(copy_src)
        half = (src_bytes + dst_bytes) // 2  # a copy of N bytes moves 2N: same traffic as the letterbox

        def letterbox():
            _core.cuda.letterbox(frames, dst.data.ptr, INPUT_HW[0], INPUT_HW[1], recipe, out_dtype="float16",
                                 stream=stream.ptr)

        def copy():
            cp.cuda.runtime.memcpyAsync(copy_dst.data.ptr, copy_src.data.ptr, half,
                                        cp.cuda.runtime.memcpyDeviceToDevice, stream.ptr)

        lb = time_device(letterbox, stream, iters)
        cpy = time_device(copy, stream, iters)
        lb_bw = gbps(src_bytes + dst_bytes, lb["median_ms"])
        cp_bw = gbps(2 * half, cpy["median_ms"])
        out[f"batch{batch}"] = {"letterbox": lb, "d2d_copy_same_bytes": cpy, "letterbox_GBps": lb_bw,
                                "d2d_copy_GBps": cp_bw, "fraction_of_copy_bandwidth": lb_bw / cp_bw,
                                "per_frame_us": lb["median_ms"] * 1e3 / batch}
    return out


def yolov8_output(rng, n: int, nc: int, hot: int) -> np.ndarray:
    cx, cy = rng.uniform(0, 640, n), rng.uniform(0, 640, n)
    w, h = rng.uniform(4, 200, n), rng.uniform(4, 200, n)
    cls = rng.uniform(0, 0.2, (nc, n))
    idx = rng.choice(n, hot, replace=False)
    cls[rng.integers(0, nc, hot), idx] = rng.uniform(0.26, 1.0, hot)
    return np.concatenate([np.stack([cx, cy, w, h]), cls])[None].astype(np.float32)


def bench_decode(stream, iters: int) -> dict:
    rng = np.random.default_rng(1)
    n, nc = 8400, 80
    head = _core.HeadSpec(_core.HeadFormat.YOLOV8, nc, n, 640, 640, [8, 16, 32])
    opts = _core.DecodeOptions(0.25, 0.7, 300, 30000, False)
    geoms = [_core.make_geometry(1080, 1920, 640, 640, _core.Placement.CENTER, True)]
    det = cp.empty((1, 300, 6), cp.float32)
    stats = cp.empty((1, 4), cp.int32)
    out = {}
    tstream = torch.cuda.ExternalStream(stream.ptr)
    for hot in (150, 8400):
        host = yolov8_output(rng, n, nc, hot)
        dev = cp.asarray(host)

        def ours():
            _core.cuda.decode_nms(dev.data.ptr, 1, head, geoms, opts, det.data.ptr, stats.data.ptr, stream=stream.ptr)

        mine = time_device(ours, stream, iters)
        stream.synchronize()
        kept = int(cp.asnumpy(stats)[0, 2])

        with torch.cuda.stream(tstream):
            t = torch.as_tensor(dev, device="cuda")[0]
            scores, cls = t[4:].max(0)
            keep_mask = scores > 0.25
            boxes_c = t[:4, keep_mask].T
            xyxy = torch.cat([boxes_c[:, :2] - boxes_c[:, 2:] / 2, boxes_c[:, :2] + boxes_c[:, 2:] / 2], 1)
            sc, cl = scores[keep_mask].contiguous(), cls[keep_mask].contiguous()

            def tv_nms():
                torchvision.ops.batched_nms(xyxy, sc, cl, 0.7)

            def tv_full():
                s, c = t[4:].max(0)
                m = s > 0.25
                b = t[:4, m].T
                bb = torch.cat([b[:, :2] - b[:, 2:] / 2, b[:, :2] + b[:, 2:] / 2], 1)
                torchvision.ops.batched_nms(bb, s[m], c[m], 0.7)[:300]

            # torch allocates and syncs inside these: time them as called, not captured.
            tv = time_device(tv_nms, stream, iters, capture=False)
            tvf = time_device(tv_full, stream, iters, capture=False)
            tv_kept = min(300, int(torchvision.ops.batched_nms(xyxy, sc, cl, 0.7).numel()))
        out[f"candidates_{hot}"] = {"fastdet_decode_nms": mine, "torchvision_batched_nms_only": tv,
                                    "torch_decode_plus_batched_nms": tvf, "kept": kept, "torchvision_kept": tv_kept,
                                    "candidates": int(sc.numel()),
                                    "speedup_vs_nms_only": tv["median_ms"] / mine["median_ms"],
                                    "speedup_vs_torch_decode": tvf["median_ms"] / mine["median_ms"]}
    return out


def bench_pipeline(iters: int) -> dict:
    rng = np.random.default_rng(2)
    n, nc = 8400, 80
    head = _core.HeadSpec(_core.HeadFormat.YOLOV8, nc, n, 640, 640, [8, 16, 32])
    opts = _core.DecodeOptions()
    out = {}
    for batch in (1, 8):
        frames = [rng.integers(0, 256, (*FRAME_HW, 3), dtype=np.uint8) for _ in range(batch)]
        preset = cp.asarray(np.concatenate([yolov8_output(rng, n, nc, 150) for _ in range(batch)]))

        def copy_engine(input_ptr, output_ptr, stream, b):
            cp.cuda.runtime.memcpyAsync(output_ptr, preset.data.ptr, preset.nbytes // batch * b,
                                        cp.cuda.runtime.memcpyDeviceToDevice, stream)

        row = {}
        for graphs in (True, False):
            pipe = _core.cuda.CudaPipeline(_core.cuda.CallableEngine(copy_engine, True), head, INPUT_HW,
                                           _core.Recipe(), opts, None, "float16", "float32", 0, graphs)
            t = time_host(lambda: pipe.run(frames), iters)
            row[f"copy_engine_graphs_{graphs}"] = t
            row[f"copy_engine_graphs_{graphs}_per_frame_ms"] = t["median_ms"] / batch

        # A small torch model (fp16, 8x8 stride-8 conv + 1x1 head): not capturable, so the
        # pipeline replays graphs around it. Its own time is measured alone and subtracted.
        model = torch.nn.Sequential(torch.nn.Conv2d(3, 32, 8, 8), torch.nn.SiLU(),
                                    torch.nn.Conv2d(32, 4 + nc, 1)).cuda().half().eval()
        side = torch.cuda.Stream()
        x_alone = torch.zeros((batch, 3, 640, 640), dtype=torch.float16, device="cuda")

        class View:
            def __init__(self, ptr, shape, typestr):
                self.__cuda_array_interface__ = {"shape": shape, "typestr": typestr, "data": (ptr, False),
                                                 "strides": None, "version": 2}

        def torch_engine(input_ptr, output_ptr, stream, b):
            x = torch.as_tensor(View(input_ptr, (b, 3, 640, 640), "<f2"), device="cuda")
            y = torch.as_tensor(View(output_ptr, (b, 4 + nc, 6400), "<f4"), device="cuda")
            with torch.cuda.stream(torch.cuda.ExternalStream(stream)), torch.no_grad():
                y[:, :, :].copy_(model(x).flatten(2).float())

        head_small = _core.HeadSpec(_core.HeadFormat.YOLOV8, nc, 6400, 640, 640, [8, 16, 32])
        pipe = _core.cuda.CudaPipeline(_core.cuda.CallableEngine(torch_engine, False), head_small, INPUT_HW,
                                       _core.Recipe(), opts, None, "float16", "float32", 0, True)
        total = time_host(lambda: pipe.run(frames), iters)

        def model_alone():
            with torch.cuda.stream(side), torch.no_grad():
                model(x_alone).flatten(2).float()
            side.synchronize()

        alone = time_host(model_alone, iters)
        row["torch_model_pipeline"] = total
        row["torch_model_alone"] = alone
        row["torch_model_pre_post_per_frame_ms"] = max(0.0, total["median_ms"] - alone["median_ms"]) / batch
        out[f"batch{batch}"] = row
    return out


def bench_h2d(stream, iters: int) -> dict:
    nbytes = FRAME_HW[0] * FRAME_HW[1] * 3
    pageable = np.random.default_rng(3).integers(0, 256, nbytes, dtype=np.uint8)
    pinned_mem = cp.cuda.alloc_pinned_memory(nbytes)
    pinned = np.frombuffer(pinned_mem, np.uint8, nbytes)
    pinned[:] = pageable
    dev = cp.empty(nbytes, cp.uint8)
    h2d = cp.cuda.runtime.memcpyHostToDevice

    def from_pageable():
        cp.cuda.runtime.memcpyAsync(dev.data.ptr, pageable.ctypes.data, nbytes, h2d, stream.ptr)

    def from_pinned():
        cp.cuda.runtime.memcpyAsync(dev.data.ptr, pinned.ctypes.data, nbytes, h2d, stream.ptr)

    pg = time_device(from_pageable, stream, iters, capture=False)
    pn = time_device(from_pinned, stream, iters, capture=False)
    return {"pageable": pg, "pinned": pn, "pageable_GBps": gbps(nbytes, pg["median_ms"]),
            "pinned_GBps": gbps(nbytes, pn["median_ms"]), "bytes": nbytes}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="JSON file to write")
    ap.add_argument("--iters", type=int, default=200)
    ap.add_argument("--table", help="also write the summary table to this file")
    args = ap.parse_args()
    if args.iters < 100:
        ap.error("--iters: expected at least 100 (medians of fewer runs are noise)")
    if not (_core.built_with_cuda and _core.cuda_available()):
        print("gpu_bench: needs a CUDA build of fastdet and a usable GPU", file=sys.stderr)
        return 2
    stream = cp.cuda.Stream(non_blocking=True)
    results = {"env": {"gpu": _core.cuda_device_name(0), "python": platform.python_version(),
                       "torch": torch.__version__, "torchvision": torchvision.__version__, "cupy": cp.__version__,
                       "iters": args.iters}}
    sections = (("letterbox", lambda: bench_letterbox(stream, args.iters)),
                ("decode_nms", lambda: bench_decode(stream, args.iters)),
                ("pipeline", lambda: bench_pipeline(args.iters)),
                ("h2d", lambda: bench_h2d(stream, args.iters)))
    for name, run in sections:  # JSON after each section: a later failure keeps what was measured
        t = time.perf_counter()
        results[name] = run()
        print(f"{name}: {time.perf_counter() - t:.1f}s", flush=True)
        with open(args.out, "w") as f:
            json.dump(results, f, indent=2)

    lb, dn, pl, hd = results["letterbox"], results["decode_nms"], results["pipeline"], results["h2d"]
    rows = [("what", "fastdet", "reference", "ratio")]
    for b in ("batch1", "batch32"):
        r = lb[b]
        rows.append((f"letterbox 1080p->640 fp16 {b} (GB/s)", f"{r['letterbox_GBps']:.0f}",
                     f"D2D copy {r['d2d_copy_GBps']:.0f}", f"{r['fraction_of_copy_bandwidth']:.2f}"))
    for k, r in dn.items():
        rows.append((f"decode+NMS {k} (us)", f"{r['fastdet_decode_nms']['median_ms'] * 1e3:.1f}",
                     f"tv batched_nms {r['torchvision_batched_nms_only']['median_ms'] * 1e3:.1f}",
                     f"{r['speedup_vs_nms_only']:.1f}x"))
    for b, r in pl.items():
        rows.append((f"pre+post/frame {b}, graph (ms)", f"{r['copy_engine_graphs_True_per_frame_ms']:.3f}",
                     f"no graph {r['copy_engine_graphs_False_per_frame_ms']:.3f}",
                     f"{r['copy_engine_graphs_False_per_frame_ms'] / r['copy_engine_graphs_True_per_frame_ms']:.2f}x"))
        rows.append((f"pre+post/frame {b}, torch model (ms)", f"{r['torch_model_pre_post_per_frame_ms']:.3f}",
                     f"model alone {r['torch_model_alone']['median_ms']:.3f}", "-"))
    rows.append(("H2D 1080p uint8 (GB/s)", f"pinned {hd['pinned_GBps']:.1f}", f"pageable {hd['pageable_GBps']:.1f}",
                 f"{hd['pinned_GBps'] / hd['pageable_GBps']:.2f}x"))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [f"GPU benchmark ({results['env']['gpu']}); full results: {args.out}"]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    text = "\n".join(lines) + "\n"
    print("\n" + text, end="")
    if args.table:
        with open(args.table, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
