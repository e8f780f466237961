"""GPU micro-benchmarks of the CUDA core, each with a reference measured in the same run.

    python bench/gpu_bench.py --out OUTDIR/gpu_bench.json [--iters 200] [--table T.txt] [--model M.onnx]

Needs a CUDA build of fastdet, a GPU, CuPy, PyTorch and torchvision (and onnx2pytorch for the
real-model rows). Device times are CUDA events around groups of calls on one stream (a captured
graph where the calls allow it), median over --iters (>= 100) calls after a warm-up; "kernel"
times are each kernel's own duration from CUPTI (torch.profiler), summed per call, so host-side
argument handling never counts; the pipeline rows are host wall-clock per call (they include
the one synchronisation).

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
  real_model    --model (yolov8n_w8.onnx) through Detector(backend="torch", device="cuda") at fp32
                and fp16: per frame for a host and a device 1080p frame, the module alone (its
                torch CUDA graph replayed), and pre + post = device-frame call - module alone
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

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1] / "tests"))
from synthetic_outputs import random_output  # noqa: E402  (one synthetic head output for tests and benches)

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


_BUSY: list = []


def warm_clocks(ms: float = 30.0) -> None:
    """Keeps the GPU busy for about `ms` so its clocks are up, as they are in a pipeline behind a
    network: an idle GPU sits at a few hundred MHz, and a one-block kernel timed right after
    idling measures the clock ramp, not the kernel."""
    if not _BUSY:
        _BUSY.append(torch.randn(4096, 4096, device="cuda", dtype=torch.float16))
    a = _BUSY[0]
    t = time.perf_counter()
    while (time.perf_counter() - t) * 1e3 < ms:
        for _ in range(4):
            a @ a
        torch.cuda.synchronize()


def sm_clock_mhz() -> int | None:
    try:
        import pynvml

        pynvml.nvmlInit()
        return int(pynvml.nvmlDeviceGetClockInfo(pynvml.nvmlDeviceGetHandleByIndex(0), pynvml.NVML_CLOCK_SM))
    except Exception:  # no NVML bindings here: the clock is simply not reported
        return None


def kernel_profile(fn, sync, calls: int = 50) -> dict:
    """Per call: each kernel's (and copy's) own device time from CUPTI, by name, and their sum,
    with the SM clock read right after (MHz).

    Unlike events around a call, this leaves out host work between launches entirely."""
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile

    for _ in range(5):
        fn()
    sync()
    warm_clocks()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(calls):
            fn()
        sync()
    by_name: dict[str, float] = {}
    for e in prof.events():
        if e.device_type != DeviceType.CUDA:
            continue
        name = e.name if len(e.name) <= 60 else e.name[:57] + "..."
        by_name[name] = by_name.get(name, 0.0) + (e.time_range.end - e.time_range.start) / calls
    return {"total_us": sum(by_name.values()), "sm_clock_mhz": sm_clock_mhz(),
            "by_kernel_us": dict(sorted(by_name.items(), key=lambda kv: -kv[1]))}


def try_profile(fn, sync, calls: int = 50) -> dict:
    try:
        return kernel_profile(fn, sync, calls)
    except Exception as e:  # no CUPTI in this torch build: the event timings still stand
        return {"error": f"{type(e).__name__}: {e}"}


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
        kern = try_profile(letterbox, stream.synchronize)
        lb_ms = kern["total_us"] / 1e3 if "total_us" in kern else lb["median_ms"]
        lb_bw = gbps(src_bytes + dst_bytes, lb_ms)
        cp_bw = gbps(2 * half, cpy["median_ms"])
        out[f"batch{batch}"] = {"letterbox": lb, "letterbox_kernels": kern, "d2d_copy_same_bytes": cpy,
                                "letterbox_GBps": lb_bw, "d2d_copy_GBps": cp_bw,
                                "fraction_of_copy_bandwidth": lb_bw / cp_bw, "per_frame_us": lb_ms * 1e3 / batch}
    return out


def yolov8_output(rng, n: int, nc: int, hot: int) -> np.ndarray:
    """float32[1, 4+nc, n]: the tests' synthetic YOLOv8 output with ``hot`` anchors above 0.25."""
    return random_output("yolov8", n, nc, rng, hot=hot)[None]


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
        kern = try_profile(ours, stream.synchronize)
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
            tv_kern = try_profile(tv_nms, torch.cuda.synchronize)
        mine_us = kern.get("total_us", mine["median_ms"] * 1e3)
        tv_us = tv_kern.get("total_us", tv["median_ms"] * 1e3)
        out[f"candidates_{hot}"] = {"fastdet_decode_nms": mine, "fastdet_kernels": kern,
                                    "torchvision_kernels": tv_kern,
                                    "kernel_speedup_vs_nms_only": tv_us / mine_us,
                                    "torchvision_batched_nms_only": tv,
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
        # Frames already on the device (a GPU decoder's output): no staging, no H2D. The copy
        # engine's own time is a few microseconds, so this is pre + post per call, host included.
        dev_frames = [cp.asarray(f) for f in frames]
        cp.cuda.Device().synchronize()
        pipe = _core.cuda.CudaPipeline(_core.cuda.CallableEngine(copy_engine, True), head, INPUT_HW,
                                       _core.Recipe(), opts, None, "float16", "float32", 0, True)
        t = time_host(lambda: pipe.run_device(dev_frames), iters)
        row["device_frames_copy_engine_graph"] = t
        row["device_frames_copy_engine_graph_per_frame_us"] = t["median_ms"] * 1e3 / batch
        row["device_frames_kernels"] = try_profile(lambda: pipe.run_device(dev_frames), lambda: None)
        row["host_frames_kernels"] = try_profile(lambda: pipe.run(frames), lambda: None)

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


def bench_real_model(path: str, iters: int) -> dict:
    """yolov8n_w8.onnx (or --model) through the torch backend on the device pipeline."""
    import cv2

    import fastdet

    rng = np.random.default_rng(4)
    frame = rng.integers(0, 256, (*FRAME_HW, 3), dtype=np.uint8)
    bus = fastdet_asset("images/bus.jpg")
    if bus is not None:  # real content, so decode + NMS sees a realistic candidate count
        frame = cv2.resize(cv2.imread(bus), (FRAME_HW[1], FRAME_HW[0]), interpolation=cv2.INTER_LINEAR)
    dev = torch.from_numpy(frame).cuda()
    torch.cuda.synchronize()
    out = {}
    for precision in ("fp32", "fp16"):
        det = fastdet.Detector(path, backend="torch", device="cuda:0", precision=precision)
        host = time_host(lambda: det.detect(frame), iters)
        device = time_host(lambda: det.detect(dev), iters)
        engine = det._backend.engine
        graphs = list(engine._graphs.values())
        row = {"host_frame": host, "device_frame": device, "detections": len(det.detect(dev)),
               "module_graph": bool(graphs)}
        if graphs:
            g = graphs[-1][0]
            s = torch.cuda.Stream()
            with torch.cuda.stream(s):
                times = []
                for _ in range(max(20, iters // 5)):
                    a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                    a.record()
                    g.replay()
                    b.record()
                    times.append((a, b))
            s.synchronize()
            alone = summary([a.elapsed_time(b) for a, b in times])
            row["module_alone"] = alone
            row["pre_post_device_frame_us"] = (device["median_ms"] - alone["median_ms"]) * 1e3
            row["pre_post_host_frame_us"] = (host["median_ms"] - alone["median_ms"]) * 1e3
        row["device_frame_kernels"] = try_profile(lambda: det.detect(dev), lambda: None, calls=20)
        out[precision] = row
    return out


def fastdet_asset(rel: str) -> str | None:
    import os
    from pathlib import Path

    root = Path(os.environ.get("FASTDET_ASSETS", Path(__file__).resolve().parents[2] / "shared" / "assets"))
    p = root / rel
    return str(p) if p.is_file() else None


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
    ap.add_argument("--model", help="real model for the end-to-end rows (default: yolov8n_w8.onnx from the assets)")
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
    model = args.model or fastdet_asset("models/yolov8n_w8.onnx")
    sections = [("letterbox", lambda: bench_letterbox(stream, args.iters)),
                ("decode_nms", lambda: bench_decode(stream, args.iters)),
                ("pipeline", lambda: bench_pipeline(args.iters)),
                ("h2d", lambda: bench_h2d(stream, args.iters))]
    if model:
        sections.append(("real_model", lambda: bench_real_model(model, 100)))
    failed = []
    for name, run in sections:  # JSON after each section: a later failure keeps what was measured
        t = time.perf_counter()
        try:
            results[name] = run()
        except Exception as e:  # report, keep measuring the other sections, fail at the end
            import traceback

            traceback.print_exc()
            results[name] = {"error": f"{type(e).__name__}: {e}"}
            failed.append(name)
        print(f"{name}: {time.perf_counter() - t:.1f}s", flush=True)
        with open(args.out, "w") as f:
            json.dump(results, f, indent=2)

    text = table(results)
    print("\n" + text, end="")
    if args.table:
        with open(args.table, "w") as f:
            f.write(text)
    if failed:
        print(f"gpu_bench: sections failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def table(results: dict) -> str:
    """The short table printed last: one row per headline number, skipping failed sections."""
    rows = [("what", "fastdet", "reference", "ratio")]
    lb, dn, pl, hd, rm = (results.get(k, {}) for k in ("letterbox", "decode_nms", "pipeline", "h2d", "real_model"))
    for b in ("batch1", "batch32"):
        if b in lb:
            r = lb[b]
            rows.append((f"letterbox 1080p->640 fp16 {b}: us/frame, GB/s", f"{r['per_frame_us']:.1f}, {r['letterbox_GBps']:.0f}",
                         f"D2D copy {r['d2d_copy_GBps']:.0f} GB/s", f"{r['fraction_of_copy_bandwidth']:.2f}"))
    for k, r in dn.items():
        if isinstance(r, dict) and "fastdet_kernels" in r:
            mine = r["fastdet_kernels"].get("total_us", float("nan"))
            tv = r["torchvision_kernels"].get("total_us", float("nan"))
            clock = r["fastdet_kernels"].get("sm_clock_mhz")
            rows.append((f"decode+NMS {k}: kernel us (SM {clock} MHz)", f"{mine:.1f}", f"tv batched_nms {tv:.1f}",
                         f"{r['kernel_speedup_vs_nms_only']:.1f}x"))
            rows.append((f"decode+NMS {k}: call us (events)", f"{r['fastdet_decode_nms']['median_ms'] * 1e3:.1f}",
                         f"tv {r['torchvision_batched_nms_only']['median_ms'] * 1e3:.1f}",
                         f"{r['speedup_vs_nms_only']:.1f}x"))
    for b, r in pl.items():
        if not isinstance(r, dict) or "copy_engine_graphs_True_per_frame_ms" not in r:
            continue
        rows.append((f"pipeline host frames {b}: ms/frame", f"graph {r['copy_engine_graphs_True_per_frame_ms']:.3f}",
                     f"no graph {r['copy_engine_graphs_False_per_frame_ms']:.3f}",
                     f"{r['copy_engine_graphs_False_per_frame_ms'] / r['copy_engine_graphs_True_per_frame_ms']:.2f}x"))
        if "device_frames_copy_engine_graph_per_frame_us" in r:
            kern = r.get("device_frames_kernels", {}).get("total_us", float("nan"))
            rows.append((f"pipeline device frames {b}: us/frame", f"{r['device_frames_copy_engine_graph_per_frame_us']:.1f}",
                         f"kernels {kern:.1f} us/call", "-"))
    if "pinned_GBps" in hd:
        rows.append(("H2D 1080p uint8 (GB/s)", f"pinned {hd['pinned_GBps']:.1f}", f"pageable {hd['pageable_GBps']:.1f}",
                     f"{hd['pinned_GBps'] / hd['pageable_GBps']:.2f}x"))
    for precision, r in rm.items():
        if not isinstance(r, dict) or "device_frame" not in r:
            continue
        alone = r.get("module_alone", {}).get("median_ms", float("nan"))
        rows.append((f"yolov8n {precision} torch{' graph' if r.get('module_graph') else ''}: ms/frame host, device", f"{r['host_frame']['median_ms']:.3f}, "
                     f"{r['device_frame']['median_ms']:.3f}", f"module alone {alone:.3f}",
                     f"pre+post {r.get('pre_post_device_frame_us', float('nan')):.0f} us"))
    for name, r in results.items():
        if isinstance(r, dict) and "error" in r:
            rows.append((f"{name}: FAILED", r["error"][:60], "", ""))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [f"GPU benchmark ({results['env']['gpu']})"]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
