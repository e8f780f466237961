"""``fastdet bench MODEL --clients 1,2,4,16``: throughput and latency percentiles as the number of
client threads grows, for three ways to serve them:

- ``shared``: one Detector called by every client thread (one session, buffers per call);
- ``per-thread``: a Detector of its own per client thread (a session each, built before timing);
- ``batching``: one BatchingDetector (``max_batch`` 8, ``max_delay_ms`` 5) in front of one Detector.

Each client sends ``requests`` frames one after another and times each call (submit to result);
all clients start together; a cell's throughput is all its requests over its wall time. Every
round runs every cell (alternating modes, so a noisy neighbour hits them alike); the report gives
the median throughput over rounds and latency percentiles over all rounds' requests.
"""

from __future__ import annotations

import os
import statistics
import sys
import threading
import time
from typing import Any, Callable, Sequence


from ..errors import InputError

MODES = ("shared", "per-thread", "batching")


def parse_clients(text: str) -> list[int]:
    """``"1,2,4,16"`` -> [1, 2, 4, 16]."""
    from .runner import parse_counts

    return parse_counts(text, "--clients", "1,2,4,16")


def parse_modes(text: str) -> list[str]:
    modes = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in modes if m not in MODES]
    if not modes or unknown:
        raise InputError(f"--modes: expected some of {','.join(MODES)}, got {text!r}")
    return modes


def _cell(calls: Sequence[Callable[[], Any]], requests: int) -> tuple[float, list[int]]:
    """Runs ``requests`` calls on each client's callable, all clients at once; returns (wall s,
    per-request latencies ns)."""
    start = threading.Barrier(len(calls) + 1)
    latencies: list[list[int]] = [[] for _ in calls]
    errors: list[BaseException] = []

    def client(i: int) -> None:
        call, out = calls[i], latencies[i]
        start.wait()
        try:
            for _ in range(requests):
                t0 = time.perf_counter_ns()
                call()
                out.append(time.perf_counter_ns() - t0)
        except BaseException as e:  # reported after the cell, not lost in a thread
            errors.append(e)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    if errors:
        raise errors[0]
    return wall, [v for per in latencies for v in per]


def run(model: str | os.PathLike[str], *, clients: Sequence[int] = (1, 2, 4, 16), modes: Sequence[str] = MODES,
        frames: str = "1920x1080", requests: int = 0, rounds: int = 3, warmup: int = 2, max_batch: int = 8,
        max_delay_ms: float = 5.0, progress: bool = True, **detector_options: Any) -> dict[str, Any]:
    """The JSON-ready report: per mode and client count, throughput (frames/s, the median over
    ``rounds``) and latency percentiles (ms per request, over every round's requests).
    ``requests`` per client per round (0: 64 / clients, at least 4). Every round runs every cell,
    so noise from other processes falls on all modes alike."""
    from tqdm import tqdm

    from ..batching import BatchingDetector
    from ..detector import Detector
    from . import environment
    from .runner import _summary, load_frames

    if rounds < 1:
        raise InputError(f"--rounds: expected at least 1, got {rounds}")
    pool, described = load_frames(frames, 1)
    frame = pool[0]
    shared = Detector(model, **detector_options)
    own = [Detector(model, **detector_options) for _ in range(max(clients))] if "per-thread" in modes else []
    report: dict[str, Any] = {
        "kind": "clients", "model": str(model), "backend": shared.backend, "frames": described,
        "input": list(shared.input_size), "max_batch": max_batch, "max_delay_ms": max_delay_ms, "rounds": rounds,
        "environment": environment.describe(), "results": [],
    }
    cells = [(m, c) for m in modes for c in clients]
    fps: dict[tuple[str, int], list[float]] = {cell: [] for cell in cells}
    samples: dict[tuple[str, int], list[int]] = {cell: [] for cell in cells}
    batches: dict[tuple[str, int], list[float]] = {cell: [] for cell in cells}
    with tqdm(total=len(cells) * rounds, unit="cell", file=sys.stderr, disable=not progress, leave=False) as bar:
        for r in range(rounds):
            for mode, n in cells:
                bar.set_description(f"round {r + 1}: {mode}, {n} client{'s' * (n > 1)}")
                per_client = requests or max(4, 64 // n)
                batcher = None
                if mode == "shared":
                    calls: list[Callable[[], Any]] = [lambda: shared.detect(frame)] * n
                elif mode == "per-thread":
                    calls = [(lambda d=d: d.detect(frame)) for d in own[:n]]
                else:
                    batcher = BatchingDetector(shared, max_batch=max_batch, max_delay_ms=max_delay_ms)
                    calls = [lambda: batcher.detect(frame)] * n
                try:
                    if warmup and r == 0:
                        _cell(calls, warmup)
                    wall, got = _cell(calls, per_client)
                finally:
                    if batcher is not None:
                        batcher.close()
                fps[(mode, n)].append(len(got) / wall)
                samples[(mode, n)] += got
                if batcher is not None:
                    batches[(mode, n)].append(batcher.stats.mean_batch)
                bar.update()
    for mode, n in cells:
        row: dict[str, Any] = {"mode": mode, "clients": n, "requests": len(samples[(mode, n)]),
                               "throughput_fps": statistics.median(fps[(mode, n)]),
                               "throughput_fps_rounds": fps[(mode, n)],
                               "latency_ms": _summary(samples[(mode, n)])}
        if batches[(mode, n)]:
            row["mean_batch"] = round(statistics.mean(batches[(mode, n)]), 2)
        report["results"].append(row)
    return report


def format_report(report: dict[str, Any]) -> str:
    env = report["environment"]
    lines = [
        f"model:   {report['model']} via {report['backend']} (input {report['input'][1]}x{report['input'][0]}); "
        f"frames {report['frames']}",
        f"machine: {env['cpu']}, {env['usable_cpus']} usable CPUs; batching: max_batch {report['max_batch']}, "
        f"max_delay_ms {report['max_delay_ms']:g}; {report['rounds']} rounds",
        "",
    ]
    rows = [["mode", "clients", "frames/s", "p50 ms", "p90 ms", "p99 ms", "mean batch"]]
    for r in report["results"]:
        lat = r["latency_ms"]
        rows.append([r["mode"], str(r["clients"]), f"{r['throughput_fps']:.1f}", f"{lat['p50']:.1f}",
                     f"{lat['p90']:.1f}", f"{lat['p99']:.1f}", f"{r['mean_batch']:.2f}" if "mean_batch" in r else "-"])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in rows]
    lines.append("latency per request, submit to result; frames/s over all clients (median over rounds)")
    return "\n".join(lines)


def plot(report: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """PNG: throughput vs clients, and p50 / p99 latency vs clients, one line per mode."""
    from .plot import require_matplotlib

    require_matplotlib()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (tp, lat) = plt.subplots(1, 2, figsize=(12, 4.5))
    for mode in dict.fromkeys(r["mode"] for r in report["results"]):
        rows = [r for r in report["results"] if r["mode"] == mode]
        x = [r["clients"] for r in rows]
        line, = tp.plot(x, [r["throughput_fps"] for r in rows], marker="o", label=mode)
        lat.plot(x, [r["latency_ms"]["p50"] for r in rows], marker="o", color=line.get_color(), label=f"{mode} p50")
        lat.plot(x, [r["latency_ms"]["p99"] for r in rows], marker="x", linestyle="--", color=line.get_color(),
                 label=f"{mode} p99")
    for ax in (tp, lat):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("client threads")
        ax.legend()
        ax.grid(alpha=0.3)
    tp.set_ylabel("frames/s (all clients)")
    tp.set_title("throughput")
    lat.set_ylabel("ms per request")
    lat.set_title("latency percentiles")
    env = report["environment"]
    fig.suptitle(f"fastdet bench --clients: {os.path.basename(report['model'])} via {report['backend']}, "
                 f"frames {report['frames']}, {env['usable_cpus']} CPUs")
    fig.tight_layout()
    fig.savefig(os.fspath(path), dpi=110)
    plt.close(fig)


def check_gate(report: dict[str, Any], min_fps: float | None, max_p99_ms: float | None) -> list[str]:
    misses = []
    for r in report["results"]:
        where = f"{r['mode']}, {r['clients']} clients"
        if min_fps is not None and r["throughput_fps"] < min_fps:
            misses.append(f"{where}: {r['throughput_fps']:.1f} frames/s < {min_fps:g}")
        if max_p99_ms is not None and r["latency_ms"]["p99"] > max_p99_ms:
            misses.append(f"{where}: p99 {r['latency_ms']['p99']:.2f} ms > {max_p99_ms:g} ms")
    return misses


