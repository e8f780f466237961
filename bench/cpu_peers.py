"""CPU end to end: fastdet against its CPU peers, each pipeline alone in its own process, rounds
alternated in one run (so machine noise hits every side alike; ratios are what to compare).

    python bench/cpu_peers.py --model yolov8n.onnx [--ir yolov8n_openvino_model/] [--int8 OUT/]
        [--frame bus.jpg | --frame 1080p] [--rounds 12] [--calls 5] [--json out.json]

Pipelines (a row is skipped, with the reason, when its package or file is missing):

- ``fastdet auto``: ``Detector(model)`` (backend "auto": OpenVINO on a CPU), the reference row;
- ``fastdet onnxruntime``: ``Detector(model, backend="onnxruntime-cpu")``;
- ``fastdet int8``: ``Detector(OUT)`` on the IR written by ``fastdet quantize``;
- ``fastdet fp32 exact``: OpenVINO with ``precision="fp32"`` (no bf16 even where the CPU has it);
- ``hand-written OpenVINO``: cv2 letterbox + ``InferRequest.infer`` + numpy decode +
  ``cv2.dnn.NMSBoxesBatched`` (``bench.reference_openvino``);
- ``ultralytics OpenVINO``: ``YOLO(ir_folder).predict(frame)`` on an OpenVINO export folder
  (``*_openvino_model/`` with ``metadata.yaml``); ``--ir`` names it, else one is written from the
  ONNX file with ``fastdet.backends.openvino_model.write_ir`` (the layout ultralytics' exporter
  writes, fp32 weights);
- ``ultralytics onnxruntime``: ``YOLO(model).predict(frame)``;
- ``OpenVINO inference only`` / ``ONNX Runtime inference only``: the runtime alone on a
  preprocessed tensor, no pre/post (context, not a pipeline).

Per call each worker reports wall time and its own inference time (fastdet's ``timings``,
ultralytics' ``speed``), so overhead = wall - inference is per pipeline. CPU model and flags are
printed with the table.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from assets import ASSETS  # noqa: E402 - run as a script from bench/

# ---------------------------------------------------------------------------------------- workers


def _frame(name: str):
    import cv2

    from bench import synthetic

    if name == "1080p":
        return synthetic.frame(1920, 1080)
    img = cv2.imread(name)
    if img is None:
        raise FileNotFoundError(f"frame: cannot read {name!r}")
    return img


def _setup(kind: str, args: dict[str, Any]) -> Callable[[], tuple[float, float]]:
    """Builds one pipeline; returns a call giving (wall ms, inference ms)."""
    frame = _frame(args["frame"])
    model = args["model"]

    def fastdet_call(det) -> Callable[[], tuple[float, float]]:
        def call() -> tuple[float, float]:
            t0 = time.perf_counter_ns()
            det.detect(frame)
            return (time.perf_counter_ns() - t0) / 1e6, det.timings["inference"] / 1e6
        return call

    if kind.startswith("fastdet"):
        from fastdet import Detector

        if kind == "fastdet auto":
            return fastdet_call(Detector(model))
        if kind == "fastdet onnxruntime":
            return fastdet_call(Detector(model, backend="onnxruntime-cpu"))
        if kind == "fastdet int8":
            return fastdet_call(Detector(args["int8"]))
        if kind == "fastdet fp32 exact":
            return fastdet_call(Detector(model, backend="openvino-cpu", precision="fp32"))
    if kind == "hand-written OpenVINO":
        from bench.reference_openvino import OpenVINOReferencePipeline

        ref = OpenVINOReferencePipeline(model)

        def call() -> tuple[float, float]:
            t0 = time.perf_counter_ns()
            ref([frame])
            return (time.perf_counter_ns() - t0) / 1e6, ref.timings["inference"] / 1e6
        return call
    if kind.startswith("ultralytics"):
        from ultralytics import YOLO

        yolo = YOLO(args["ir"] if kind == "ultralytics OpenVINO" else model, task="detect")

        def call() -> tuple[float, float]:
            t0 = time.perf_counter_ns()
            r = yolo.predict(frame, imgsz=640, device="cpu", verbose=False)[0]
            return (time.perf_counter_ns() - t0) / 1e6, float(r.speed["inference"])
        return call
    if kind.endswith("inference only"):
        import numpy as np

        from fastdet import letterbox

        x = letterbox(frame, 640)[0][None].copy()
        if kind.startswith("OpenVINO"):
            import openvino as ov

            req = ov.Core().compile_model(model, "CPU", {"PERFORMANCE_HINT": "LATENCY"}).create_infer_request()
            req.get_input_tensor().data[:] = x
            infer = req.infer
        else:
            from fastdet.backends.onnxruntime_cpu import open_session, session_options

            session = open_session(Path(model), ["CPUExecutionProvider"], session_options())
            name = session.get_inputs()[0].name
            infer = lambda: session.run(None, {name: x})  # noqa: E731
        assert np is not None

        def call() -> tuple[float, float]:
            t0 = time.perf_counter_ns()
            infer()
            ms = (time.perf_counter_ns() - t0) / 1e6
            return ms, ms
        return call
    raise ValueError(f"unknown pipeline {kind!r}")


def _worker(conn, kind: str, args: dict[str, Any]) -> None:
    import warnings

    warnings.simplefilter("ignore")
    try:
        call = _setup(kind, args)
        for _ in range(args["warmup"]):
            call()
    except Exception as e:  # a missing package or file: the row is skipped, the run goes on
        conn.send(("skip", f"{type(e).__name__}: {e}"))
        return
    conn.send(("ready", None))
    while True:
        n = conn.recv()
        if n is None:
            return
        conn.send(("times", [call() for _ in range(n)]))


# ---------------------------------------------------------------------------------------- driver


def cpu_description() -> dict[str, Any]:
    info: dict[str, Any] = {"machine": platform.machine(), "cores": mp.cpu_count()}
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return info
    for line in text.splitlines():
        if line.startswith("model name") and "model" not in info:
            info["model"] = line.split(":", 1)[1].strip()
        if line.startswith("flags") and "flags" not in info:
            flags = line.split(":", 1)[1].split()
            info["flags"] = sorted(f for f in flags if f.startswith(("avx", "amx")) or f in ("fma", "f16c"))
    return info


PIPELINES = ["fastdet auto", "fastdet onnxruntime", "fastdet int8", "fastdet fp32 exact", "hand-written OpenVINO",
             "ultralytics OpenVINO", "ultralytics onnxruntime", "OpenVINO inference only",
             "ONNX Runtime inference only"]


def export_folder(model: Path, workdir: Path) -> Path:
    """An ultralytics-layout OpenVINO export of ``model`` (IR + metadata.yaml)."""
    import openvino as ov

    from fastdet.backends.openvino_model import onnx_metadata, write_ir

    folder = workdir / f"{model.stem}_openvino_model"
    write_ir(ov.convert_model(str(model)), folder, onnx_metadata(model), name=model.stem)
    return folder


def run(args: argparse.Namespace) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    kinds = [k for k in PIPELINES if k in (args.only or PIPELINES)]
    if not args.int8 and "fastdet int8" in kinds:
        kinds.remove("fastdet int8")
    spec = {"model": str(args.model), "frame": args.frame, "int8": args.int8, "ir": args.ir, "warmup": 3}
    workers, skipped = {}, {}
    for kind in kinds:  # started one at a time: compiling is not measured, but it loads the cores
        parent, child = ctx.Pipe()
        p = ctx.Process(target=_worker, args=(child, kind, spec), daemon=True)
        p.start()
        status, detail = parent.recv()
        if status == "skip":
            skipped[kind] = detail
            p.join()
        else:
            workers[kind] = (p, parent)
    samples: dict[str, list[tuple[float, float]]] = {k: [] for k in workers}
    round_medians: dict[str, list[float]] = {k: [] for k in workers}
    order = list(workers)
    for r in range(args.rounds):
        for kind in (order if r % 2 == 0 else order[::-1]):
            _, conn = workers[kind]
            conn.send(args.calls)
            _, times = conn.recv()
            samples[kind] += times
            round_medians[kind].append(statistics.median(t[0] for t in times))
    for p, conn in workers.values():
        conn.send(None)
        p.join()
    rows = {}
    ref = "fastdet auto" if "fastdet auto" in samples else order[0]
    for kind, times in samples.items():
        wall = statistics.median(t[0] for t in times)
        infer = statistics.median(t[1] for t in times)
        overhead = statistics.median(t[0] - t[1] for t in times)
        # Ratio per round (same moment of the machine), then the median over rounds.
        ratio = statistics.median(k / f for k, f in zip(round_medians[kind], round_medians[ref]))
        rows[kind] = {"wall_ms": wall, "inference_ms": infer, "overhead_ms": overhead, "vs_fastdet_auto": ratio}
    return {"cpu": cpu_description(), "model": str(args.model), "frame": args.frame, "rounds": args.rounds,
            "calls": args.calls, "rows": rows, "skipped": skipped}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path, default=ASSETS / "models" / "yolov8n_w8.onnx", help="ONNX detector")
    p.add_argument("--ir", type=Path, default=None, help="ultralytics OpenVINO export folder of the same model")
    p.add_argument("--int8", type=Path, default=None, help="int8 IR folder written by fastdet quantize")
    p.add_argument("--frame", default=str(ASSETS / "images" / "bus.jpg"), help="image file, or 1080p (synthetic)")
    p.add_argument("--rounds", type=int, default=12)
    p.add_argument("--calls", type=int, default=5, help="calls per pipeline per round")
    p.add_argument("--only", action="append", choices=PIPELINES, help="run only these pipelines (repeatable)")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="fastdet-peers-") as tmp:
        if args.ir is None:
            try:
                args.ir = export_folder(args.model, Path(tmp))
            except ImportError as e:
                print(f"note: no OpenVINO export folder ({e})", file=sys.stderr)
        result = run(args)
    cpu = result["cpu"]
    print(f"CPU: {cpu.get('model')} ({cpu['cores']} cores); flags: {' '.join(cpu.get('flags', []))}")
    print(f"model {Path(result['model']).name}, frame {Path(result['frame']).name}, {args.rounds} rounds x "
          f"{args.calls} calls, each pipeline in its own process")
    print(f"{'pipeline':30s} {'per frame':>10s} {'inference':>10s} {'overhead':>9s} {'time vs fastdet auto':>21s}")
    for kind, r in result["rows"].items():
        print(f"{kind:30s} {r['wall_ms']:8.2f} ms {r['inference_ms']:7.2f} ms {r['overhead_ms']:6.2f} ms "
              f"{r['vs_fastdet_auto']:20.2f}x")
    for kind, why in result["skipped"].items():
        print(f"{kind:30s} skipped: {why}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
