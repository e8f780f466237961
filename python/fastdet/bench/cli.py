"""The ``fastdet bench`` subcommand.

    fastdet bench MODEL [--device cpu|cuda] [--batch 1,8] [--frames 1920x1080] [--iters N]
                        [--json out.json] [--plot out.png]
    fastdet bench --gate bench/gates.toml            # the CI speed gates (fastdet.bench.gate)
    fastdet bench --baseline saved.json --current new.json --max-regression 10%
"""

from __future__ import annotations

import argparse
import json
import sys

from ..errors import InputError
from . import gate

HELP = "benchmark a model (latency, stages, throughput) or run the speed gates"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", nargs="?", help="ONNX detector to benchmark")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="cpu (default) or cuda")
    p.add_argument("--batch", default="1", help="comma-separated batch sizes (default 1), e.g. 1,8")
    p.add_argument("--frames", default="1920x1080",
                   help="synthetic frame size WIDTHxHEIGHT (default 1920x1080) or an image file")
    p.add_argument("--iters", type=int, default=50, help="timed calls per batch size (default 50)")
    p.add_argument("--warmup", type=int, default=5, help="untimed calls first (default 5)")
    p.add_argument("--json", metavar="OUT", help="write the report (with the environment) as JSON")
    p.add_argument("--plot", metavar="PNG", help="write a latency histogram + stage bars (needs matplotlib)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--gate", metavar="TOML", help="run the speed gates of TOML instead (exit 1 below a floor)")
    gate.add_arguments(p)


def run(args: argparse.Namespace) -> int:
    if args.gate or args.baseline or args.current:
        if args.model:
            raise InputError("give either MODEL or --gate/--baseline, not both")
        return gate.run(args.gate, args)
    if not args.model:
        raise InputError("give a MODEL to benchmark (or --gate bench/gates.toml)")
    from . import runner

    if args.plot:
        from .plot import require_matplotlib

        require_matplotlib()  # fail before minutes of benchmarking, not after
    report = runner.run(args.model, device=args.device, batches=runner.parse_batches(args.batch),
                        frames=args.frames, iters=args.iters, warmup=args.warmup,
                        progress=not args.no_progress)
    print(runner.format_report(report))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=1)
            f.write("\n")
        print(f"report written to {args.json}", file=sys.stderr)
    if args.plot:
        from .plot import plot_report

        plot_report(report, args.plot)
        print(f"plot written to {args.plot}", file=sys.stderr)
    return 0
