"""The ``fastdet bench`` subcommand: a latency report of *your* model on this machine, optionally
a gate on it, and a comparison of two saved runs.

    fastdet bench MODEL [--device cpu|cuda] [--batch 1,8] [--frames 1920x1080] [--iters N]
                        [--json out.json] [--plot out.png] [--min-fps N] [--max-p99-ms X]
    fastdet bench MODEL --clients 1,2,4,16 [--modes shared,per-thread,batching] [--requests N]
                        [--json out.json] [--plot out.png]
    fastdet bench --baseline saved.json --current new.json --max-regression 10%

An option of another form than the one run (--batch with --clients, --rounds without it, any
measuring option with --baseline/--current) is refused, not ignored.

``--min-fps`` / ``--max-p99-ms`` make it a gate ("my model runs at >= N frames/s with p99 <= X ms
here"): exit status 1 when a batch size misses either. (fastdet's own speed gates, which compare
it with reference pipelines, live in the source tree's ``bench/`` folder.)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Callable

from ..errors import InputError

HELP = "benchmark a model (latency, stages, throughput), gate on it, or compare two saved runs"


#: The options of a measuring run (``bench MODEL``) and their defaults in the parser. With
#: --baseline/--current they would be ignored, so any of them set to something else is refused there.
#: The options of one mode only (PLAIN_ONLY, CLIENTS_ONLY) default to None, so that one given in the
#: other mode is seen (and refused) even when given its default value; MODE_DEFAULTS has their values.
MEASURING: dict[str, object] = {
    "device": "cpu", "backend": "auto", "batch": None, "frames": "1920x1080", "iters": None, "warmup": 5,
    "json": None, "plot": None, "no_progress": False, "clients": None, "modes": None,
    "requests": None, "rounds": None, "min_fps": None, "max_p99_ms": None,
}
#: The measuring options of one mode only: a plain run (``bench MODEL``: batch sizes, timed calls)
#: or the clients mode (``bench MODEL --clients N,N``: one frame per request, its own counts).
PLAIN_ONLY = ("batch", "iters")
CLIENTS_ONLY = ("modes", "requests", "rounds")
#: What the options of one mode are when not given.
MODE_DEFAULTS: dict[str, object] = {"batch": "1", "iters": 50, "modes": "shared,per-thread,batching",
                                    "requests": 0, "rounds": 3}


def add_arguments(p: argparse.ArgumentParser) -> None:
    d = MEASURING
    p.add_argument("model", nargs="?", help="model to benchmark (default: none; give one, or --baseline/--current)")
    p.add_argument("--device", default=d["device"], choices=["cpu", "cuda"], help="cpu (default) or cuda")
    p.add_argument("--backend", default=d["backend"], help="auto (default) or a backend name from `fastdet info`")
    p.add_argument("--batch", default=d["batch"], help="comma-separated batch sizes (default 1), e.g. 1,8")
    p.add_argument("--frames", default=d["frames"],
                   help="synthetic frame size WIDTHxHEIGHT (default 1920x1080) or an image file")
    p.add_argument("--iters", type=int, default=d["iters"], help="timed calls per batch size (default 50)")
    p.add_argument("--warmup", type=int, default=d["warmup"], help="untimed calls first (default 5)")
    p.add_argument("--json", metavar="OUT", default=d["json"],
                   help="write the report (with the environment) as JSON")
    p.add_argument("--plot", metavar="PNG", default=d["plot"],
                   help="write a latency histogram + stage bars (needs matplotlib)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--clients", metavar="N,N", default=d["clients"],
                   help="instead: throughput and p50/p99 vs client threads, e.g. 1,2,4,16, for a shared Detector, "
                        "one Detector per thread and a BatchingDetector")
    p.add_argument("--modes", default=d["modes"], help="with --clients: which of "
                                                        "shared,per-thread,batching (default all)")
    p.add_argument("--requests", type=int, default=d["requests"], metavar="N",
                   help="with --clients: frames per client per round (default 64 / clients, at least 4)")
    p.add_argument("--rounds", type=int, default=d["rounds"], metavar="N",
                   help="with --clients: rounds over every cell, alternating modes (default 3)")
    p.add_argument("--min-fps", type=float, default=d["min_fps"], metavar="N",
                   help="gate: exit 1 unless every batch size reaches N frames/s")
    p.add_argument("--max-p99-ms", type=float, default=d["max_p99_ms"], metavar="X",
                   help="gate: exit 1 unless every batch size's p99 call latency is at most X ms")
    from .regression import add_arguments as regression_arguments

    regression_arguments(p)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _given(args: argparse.Namespace, defaults: dict[str, object]) -> list[str]:
    """The flags of ``defaults`` that ``args`` sets to something other than their default."""
    return [_flag(name) for name, default in defaults.items() if getattr(args, name, default) != default]


def _value(args: argparse.Namespace, name: str) -> Any:
    """The value of an option of one mode: as given, else its MODE_DEFAULTS value."""
    value = getattr(args, name, None)
    return MODE_DEFAULTS[name] if value is None else value


def _check_arguments(args: argparse.Namespace) -> None:
    """Everything a measuring run can check before it loads the model: InputError on the first
    bad value."""
    from ..cli_arguments import finite, output_file
    from . import runner
    from .regression import COMPARING

    comparing = _given(args, COMPARING)
    if comparing:
        raise InputError(f"{', '.join(comparing)}: only {'applies' if len(comparing) == 1 else 'apply'} with "
                         f"--baseline and --current (comparing two saved runs), not when benchmarking a MODEL")
    if args.clients is not None:
        other = _given(args, {name: MEASURING[name] for name in PLAIN_ONLY})
        if other:
            raise InputError(f"{', '.join(other)}: {'does' if len(other) == 1 else 'do'} not apply with --clients "
                             f"(each client sends one frame per request; its counts are --requests and --rounds)")
    else:
        other = _given(args, {name: MEASURING[name] for name in CLIENTS_ONLY})
        if other:
            raise InputError(f"{', '.join(other)}: only {'applies' if len(other) == 1 else 'apply'} with --clients "
                             f"N,N (the multi-client run); a plain run's counts are --batch and --iters")
    for name, least in (("iters", "1"), ("warmup", "0"), ("requests", "0 (64 / clients)"), ("rounds", "1")):
        value = _value(args, name) if name in MODE_DEFAULTS else getattr(args, name)
        if value < int(least.split()[0]):
            raise InputError(f"{_flag(name)}: expected {least} or more, got {value}")
    for name in ("min_fps", "max_p99_ms"):
        finite(getattr(args, name), _flag(name), 0, low_open=True)
    for name in ("json", "plot"):
        if getattr(args, name):
            output_file(getattr(args, name), _flag(name))
    if args.json and args.plot and Path(args.json).resolve() == Path(args.plot).resolve():
        raise InputError(f"--json and --plot name the same file {args.json!r}; give each its own")
    runner.check_frames(args.frames)
    if args.clients is not None:
        from . import clients

        clients.parse_clients(args.clients)
        clients.parse_modes(_value(args, "modes"))
    else:
        runner.parse_counts(_value(args, "batch"))


def check_gate(report: dict, min_fps: float | None, max_p99_ms: float | None) -> list[str]:
    """The misses of a report against the user's gate, one line each (empty: passed)."""
    misses = []
    for r in report["results"]:
        if min_fps is not None and r["throughput_fps"] < min_fps:
            misses.append(f"batch {r['batch']}: {r['throughput_fps']:.1f} frames/s < {min_fps:g}")
        if max_p99_ms is not None and r["latency_ms"]["p99"] > max_p99_ms:
            misses.append(f"batch {r['batch']}: p99 {r['latency_ms']['p99']:.2f} ms > {max_p99_ms:g} ms")
    return misses


def run(args: argparse.Namespace) -> int:
    if args.baseline or args.current:
        # --no-progress changes no result (a comparison shows no progress bar): harmless, allowed.
        measuring = {k: v for k, v in MEASURING.items() if k != "no_progress"}
        ignored = (["MODEL"] if args.model else []) + _given(args, measuring)
        if ignored:
            raise InputError(f"{', '.join(ignored)}: {'does' if len(ignored) == 1 else 'do'} not apply when "
                             f"comparing two saved runs (--baseline/--current); give either a MODEL to benchmark "
                             f"or --baseline and --current")
        from .regression import run as compare

        return compare(args)
    if not args.model:
        raise InputError("give a MODEL to benchmark (or --baseline and --current to compare two saved runs)")
    _check_arguments(args)  # before minutes of benchmarking, not after
    from . import runner

    if args.plot:
        from .plot import require_matplotlib

        require_matplotlib()  # fail before minutes of benchmarking, not after
    if args.clients is not None:
        return run_clients(args)
    report = runner.run(args.model, device=args.device, batches=runner.parse_counts(_value(args, "batch")),
                        frames=args.frames, iters=_value(args, "iters"), warmup=args.warmup,
                        progress=not args.no_progress, backend=args.backend)
    print(runner.format_report(report))
    return _write_and_gate(args, report, _plot_report, check_gate)


def _plot_report(report: dict, path: str) -> None:
    from .plot import plot_report  # matplotlib only when a plot is asked for

    plot_report(report, path)


def _write_and_gate(args: argparse.Namespace, report: dict, plot: Callable[[dict, str], None],
                    gate: Callable[[dict, float | None, float | None], list[str]]) -> int:
    """The report's JSON and plot when asked for, then the user's gate: the exit status."""
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=1)
            f.write("\n")
        print(f"report written to {args.json}", file=sys.stderr)
    if args.plot:
        plot(report, args.plot)
        print(f"plot written to {args.plot}", file=sys.stderr)
    if args.min_fps is not None or args.max_p99_ms is not None:
        misses = gate(report, args.min_fps, args.max_p99_ms)
        for line in misses:
            print(f"gate missed: {line}", file=sys.stderr)
        if misses:
            return 1
        print("gate passed", file=sys.stderr)
    return 0


def run_clients(args: argparse.Namespace) -> int:
    """``--clients``: the multi-client report, its JSON, plot and gate."""
    from . import clients

    if args.device != "cpu":
        from .runner import check_device

        check_device(args.device)
    report = clients.run(args.model, clients=clients.parse_clients(args.clients),
                         modes=clients.parse_modes(_value(args, "modes")),
                         frames=args.frames, requests=_value(args, "requests"), rounds=_value(args, "rounds"),
                         warmup=min(args.warmup, 2),
                         progress=not args.no_progress, device=args.device, backend=args.backend)
    print(clients.format_report(report))
    return _write_and_gate(args, report, clients.plot, clients.check_gate)
