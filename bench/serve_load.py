"""A bounded load on ``fastdet serve``: C concurrent clients each send R requests over loopback
(REST, one JPEG per request, kept-alive connections) to the router, which sends each image to the
detector model through MLServer's adaptive batching and worker pool.

    python bench/serve_load.py --model ../shared/assets/models/yolov8n_w8.onnx \\
        --image ../shared/assets/images/bus.jpg --clients 8 --requests 500 \\
        --configs w1-b1,w1-b8,w2-b1,w2-b8 [--dynamic-batch] [--out results.json]

A config ``wW-bB`` is W inference workers and adaptive batching up to B images (b1: off; the
batch waits at most --batch-time-ms). Per config: throughput, p50/p99 latency, errors (non-200)
and lost requests (no answer at all), the mean batch the detector model ran (from /metrics),
and whether every answer's boxes equal ``Detector.detect`` on the same image. The clients run on
the same machine, so they take CPU from the server: the numbers are for the whole loopback system.

``--dynamic-batch`` serves a copy of the model whose batch axis is made dynamic (its four
Reshapes with a batch of 1 baked in read it from the input instead; outputs are equal image for
image), so a batch is one inference call rather than a chunk per image.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np


def dynamic_batch_copy(model: Path, out: Path) -> Path:
    """``model`` with a dynamic batch axis: Reshape targets whose first entry is 1 take it from the
    input (0 in ONNX Reshape means "copy this dimension")."""
    import onnx
    from onnx import numpy_helper

    m = onnx.load(str(model))
    for t in list(m.graph.input) + list(m.graph.output):
        t.type.tensor_type.shape.dim[0].dim_param = "batch"
    inits = {i.name: i for i in m.graph.initializer}
    consts = {n.output[0]: n for n in m.graph.node if n.op_type == "Constant"}
    for n in m.graph.node:
        if n.op_type != "Reshape":
            continue
        if n.input[1] in inits:
            tensor = inits[n.input[1]]
        elif n.input[1] in consts:
            tensor = consts[n.input[1]].attribute[0].t
        else:
            continue
        shape = numpy_helper.to_array(tensor).copy()
        if shape[0] == 1:
            shape[0] = 0
            tensor.CopyFrom(numpy_helper.from_array(shape, tensor.name))
    del m.graph.value_info[:]
    onnx.save(m, str(out))
    return out


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status, r.read()
    except Exception:  # noqa: BLE001 - not up yet
        return 0, b""


def _ports() -> list[int]:
    import socket

    socks = [socket.socket() for _ in range(3)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _metric_sum(text: str, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + "{"))


def run_config(model: Path, image: bytes, workers: int, batch: int, args: argparse.Namespace,
               reference: np.ndarray) -> dict:
    port, grpc_port, metrics_port = _ports()
    cmd = [sys.executable, "-m", "fastdet", "serve", str(model), "--name", "det", "--port", str(port),
           "--grpc-port", str(grpc_port), "--metrics-port", str(metrics_port), "--workers", str(workers),
           "--batch-size", str(batch), "--batch-time-ms", str(args.batch_time_ms), "--backend", args.backend]
    log = open(Path(tempfile.gettempdir()) / f"fastdet-serve-load-{port}.log", "wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while not all(_get(f"http://127.0.0.1:{port}{p}")[0] == 200
                      for p in ("/v2/health/ready", "/v2/models/det/ready", "/v2/models/det-detector/ready")):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start: see {log.name}")
            time.sleep(0.3)
        body = json.dumps({"inputs": [{"name": "image", "datatype": "BYTES", "shape": [1],
                                       "data": [base64.b64encode(image).decode()]}]}).encode()
        latencies: list[list[float]] = [[] for _ in range(args.clients)]
        errors = [0] * args.clients
        lost = [0] * args.clients
        mismatched = [0] * args.clients

        def client(i: int, n: int) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            for _ in range(n):
                t0 = time.perf_counter()
                try:
                    conn.request("POST", "/v2/models/det/infer", body, {"content-type": "application/json"})
                    r = conn.getresponse()
                    raw = r.read()
                except (OSError, http.client.HTTPException):
                    lost[i] += 1
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                    continue
                latencies[i].append(time.perf_counter() - t0)
                if r.status != 200:
                    errors[i] += 1
                    continue
                out = {o["name"]: o for o in json.loads(raw)["outputs"]}
                boxes = np.asarray(out["boxes"]["data"], np.float32).reshape(-1, 4)
                if boxes.shape != reference.shape or np.abs(boxes - reference).max() > args.tolerance:
                    mismatched[i] += 1
            conn.close()

        def load(n: int) -> float:
            threads = [threading.Thread(target=client, args=(i, n)) for i in range(args.clients)]
            t0 = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            return time.perf_counter() - t0

        load(args.warmup)  # compiles, first batches, connection set-up: not measured
        latencies[:] = [[] for _ in range(args.clients)]
        errors[:], lost[:], mismatched[:] = [0] * args.clients, [0] * args.clients, [0] * args.clients
        metrics_before = _get(f"http://127.0.0.1:{metrics_port}/metrics")[1].decode()
        wall = load(args.requests)
        metrics_after = _get(f"http://127.0.0.1:{metrics_port}/metrics")[1].decode()
        calls = (_metric_sum(metrics_after, "fastdet_batch_images_count")
                 - _metric_sum(metrics_before, "fastdet_batch_images_count"))
        images = (_metric_sum(metrics_after, "fastdet_batch_images_sum")
                  - _metric_sum(metrics_before, "fastdet_batch_images_sum"))
        all_ms = sorted(1000 * x for lat in latencies for x in lat)
        sent = args.clients * args.requests
        return {"config": f"w{workers}-b{batch}", "workers": workers, "max_batch": batch, "requests": sent,
                "answered": len(all_ms), "errors": sum(errors), "lost": sum(lost), "mismatched": sum(mismatched),
                "wall_s": round(wall, 2), "throughput": round(len(all_ms) / wall, 1),
                "p50_ms": round(statistics.median(all_ms), 1),
                "p99_ms": round(all_ms[min(len(all_ms) - 1, int(0.99 * len(all_ms)))], 1),
                "mean_batch": round(images / calls, 2) if calls else None}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True)
    p.add_argument("--image", required=True)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--requests", type=int, default=500, help="per client")
    p.add_argument("--warmup", type=int, default=10, help="requests per client before measuring")
    p.add_argument("--configs", default="w1-b1,w1-b8", help="comma-separated wW-bB")
    p.add_argument("--batch-time-ms", type=float, default=5.0)
    p.add_argument("--backend", default="auto")
    p.add_argument("--dynamic-batch", action="store_true")
    p.add_argument("--tolerance", type=float, default=1e-3, help="pixels a box may differ from Detector.detect's")
    p.add_argument("--out", help="write the results as JSON here too")
    args = p.parse_args()

    import cv2

    import fastdet

    model = Path(args.model).resolve()
    if args.dynamic_batch:
        model = dynamic_batch_copy(model, Path(tempfile.mkdtemp(prefix="fastdet-bench-")) / (model.stem + "_dyn.onnx"))
    image = Path(args.image).read_bytes()
    reference = fastdet.Detector(model, backend=args.backend).detect(
        cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_COLOR)).xyxy
    print(f"model {model.name}, image {args.image} ({len(image)} bytes, {len(reference)} boxes), "
          f"{args.clients} clients x {args.requests} requests, {os.cpu_count()} CPUs", flush=True)
    # The reference, in the same run: one Detector in this process, decode + detect in a loop.
    det = fastdet.Detector(model, backend=args.backend)
    from fastdet.frames import decode_image

    det.detect(decode_image(image).pixels)
    t0 = time.perf_counter()
    n = 100
    for _ in range(n):
        det.detect(decode_image(image).pixels)
    direct = n / (time.perf_counter() - t0)
    del det
    print(f"in-process Detector (decode + detect, no server): {direct:.1f} img/s", flush=True)
    results = []
    for config in args.configs.split(","):
        w, b = config.strip().lstrip("w").split("-b")
        r = run_config(model, image, int(w), int(b), args, reference)
        r["vs_in_process"] = round(r["throughput"] / direct, 2)
        results.append(r)
        print(json.dumps(r), flush=True)
    print(f"\nin-process Detector: {direct:.1f} img/s")
    print("| config | requests | errors | lost | boxes equal | img/s | vs in-process | p50 ms | p99 ms | mean batch |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['config']} | {r['requests']} | {r['errors']} | {r['lost']} | "
              f"{r['answered'] - r['errors'] - r['mismatched']}/{r['answered']} | {r['throughput']} | {r['vs_in_process']} | "
              f"{r['p50_ms']} | "
              f"{r['p99_ms']} | {r['mean_batch']} |")
    if args.out:
        Path(args.out).write_text(json.dumps({"in_process": round(direct, 1), "results": results}, indent=1))
    return 0 if all(r["errors"] == 0 and r["lost"] == 0 and r["mismatched"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
