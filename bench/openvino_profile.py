"""Where OpenVINO spends a model's inference on this CPU: per-layer performance counters
(``PERF_COUNT``) summed by layer type and kernel (e.g. ``brgconv_avx512_amx_I8``), for one or
more models side by side (fp32 ONNX vs the int8 IR of ``fastdet quantize``, say).

    python bench/openvino_profile.py MODEL [MODEL ...] [--precision auto|fp32|bf16] [--iters 20] [--top 12]

Models are profiled in turn, alternating iterations, with the LATENCY hint fastdet uses for one
frame. The per-layer sum can exceed the wall time of a call a little (counters include the
layer's own synchronisation).
"""

from __future__ import annotations

import argparse
import collections
import sys
import time

import numpy as np


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("models", nargs="+")
    p.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"))
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--top", type=int, default=12)
    args = p.parse_args(argv)
    import openvino as ov

    from fastdet.backends.openvino import compile_config
    from fastdet.backends.openvino_model import ir_file, is_ir
    from pathlib import Path

    core = ov.Core()
    requests = {}
    for m in args.models:
        path = Path(m)
        src = str(ir_file(path)) if is_ir(path) else m
        config = compile_config("latency", None, args.precision, None) | {"PERF_COUNT": True}
        req = core.compile_model(src, "CPU", config).create_infer_request()
        t = req.get_input_tensor()
        t.data[:] = np.random.default_rng(0).random(t.shape, dtype=np.float32)
        for _ in range(3):
            req.infer()
        requests[m] = req
    layers = {m: collections.defaultdict(lambda: [0.0, 0]) for m in requests}
    walls = {m: [] for m in requests}
    for i in range(args.iters):
        for m, req in (list(requests.items()) if i % 2 == 0 else list(requests.items())[::-1]):
            t0 = time.perf_counter()
            req.infer()
            walls[m].append(time.perf_counter() - t0)
            for info in req.profiling_info:
                if info.status == ov.ProfilingInfo.Status.EXECUTED:
                    entry = layers[m][(info.node_type, info.exec_type)]
                    entry[0] += info.real_time.total_seconds() * 1e3 / args.iters
                    entry[1] += 1
    for m in requests:
        total = sum(v[0] for v in layers[m].values())
        print(f"== {m}: median call {np.median(walls[m]) * 1e3:.2f} ms, layers sum {total:.2f} ms")
        rows = sorted(layers[m].items(), key=lambda kv: -kv[1][0])
        for (node, kernel), (ms, n) in rows[:args.top]:
            print(f"  {node:18s} {kernel:34s} {ms:7.3f} ms {100 * ms / total:5.1f}%  x{n // args.iters}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
