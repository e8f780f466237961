"""``fastdet bench MODEL``: warm-up, then latency percentiles, per-stage times and throughput per
batch size, timed with perf_counter_ns around ``Detector.detect`` and read from
``Detector.timings`` for the stages."""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .. import _core
from ..errors import InputError


def parse_counts(text: str, flag: str = "--batch", example: str = "1,8") -> list[int]:
    """``"1,8"`` -> [1, 8]: the positive counts of a comma-separated flag (batch sizes, clients)."""
    try:
        out = [int(c) for c in text.split(",") if c.strip()]
    except ValueError:
        raise InputError(f"{flag}: expected comma-separated counts such as {example}, got {text!r}") from None
    if not out or any(c < 1 for c in out):
        raise InputError(f"{flag}: expected positive counts such as {example}, got {text!r}")
    return out


#: The largest synthetic frame: the native letterbox's limit per side, and 100 megapixels in all
#: (300 MB a frame, and a float32 gradient of 1.2 GB while it is made).
MAX_FRAME_SIDE = _core.MAX_FRAME_SIDE
MAX_FRAME_PIXELS = 100_000_000


def check_frames(spec: str) -> tuple[int, int] | Path:
    """``--frames``: an existing image file (its Path) or a size ``WIDTHxHEIGHT`` ((width, height))
    within MAX_FRAME_SIDE per side and MAX_FRAME_PIXELS in all; else an InputError that names both
    forms and says what is wrong (missing file, folder, size)."""
    from . import frames as synthetic

    p = Path(spec)
    if p.is_file():
        return p
    try:
        w, h = synthetic.parse_size(spec)
    except InputError:
        pass
    else:
        if w > MAX_FRAME_SIDE or h > MAX_FRAME_SIDE or w * h > MAX_FRAME_PIXELS:
            raise InputError(f"--frames {spec!r}: a synthetic frame is at most {MAX_FRAME_SIDE} pixels per side "
                             f"and {MAX_FRAME_PIXELS // 1_000_000} megapixels in all; {w}x{h} is "
                             f"{w * h / 1e6:.4g} megapixels ({w * h * 3 / 1e9:.3g} GB a frame)")
        return w, h
    if p.is_dir():
        why = "that is a folder, not an image file"
    elif re.fullmatch(r"\s*[+-]?\d+\s*[xX]\s*[+-]?\d+\s*", spec):
        why = "width and height must be positive"
    else:
        why = "not a size, and there is no such file"
    raise InputError(f"--frames {spec!r}: expected a frame size WIDTHxHEIGHT such as 1920x1080, or an image file; "
                     f"{why}")


def load_frames(spec: str, count: int) -> tuple[list[np.ndarray], str]:
    """``count`` frames: synthetic ones of size ``WIDTHxHEIGHT``, or an image file repeated.
    Returns (frames, description)."""
    from . import frames as synthetic

    if isinstance(check_frames(spec), Path):
        from ..frames import read_image

        img = read_image(spec)
        if img.rgb:
            raise ValueError("--frames: reading images needs OpenCV (pip install 'fastdet[cpu]')")
        h, w = img.shape
        return [img.pixels] * count, f"{Path(spec).name} ({w}x{h})"
    w, h = synthetic.parse_size(spec)
    return [synthetic.frame(w, h, seed=i) for i in range(count)], f"{w}x{h} synthetic"


def check_device(device: str) -> None:
    """Raises RuntimeError saying why when ``device`` cannot run here."""
    if device == "cpu":
        return
    if not device.startswith("cuda"):
        raise InputError(f"--device: expected cpu or cuda, got {device!r}")
    from .. import _core, backends
    from ..errors import BackendUnavailable

    gpu = backends.gpu_availability()
    if any(r is None for r in gpu.values()):
        return
    why = "no GPU found" if _core.built_with_cuda else "this fastdet was built without CUDA"
    detail = "; ".join(f"{n}: {r}" for n, r in gpu.items()) or "no GPU backend is installed"
    raise BackendUnavailable(f"--device {device}: no CUDA backend can run here ({why}; {detail}). "
                       "Install fastdet[gpu] on a machine with an NVIDIA GPU, or use --device cpu.")


def _summary(values_ns: Sequence[int]) -> dict[str, float]:
    a = np.asarray(values_ns, dtype=np.float64) / 1e6
    p50, p90, p99 = np.percentile(a, [50, 90, 99])
    return {"p50": float(p50), "p90": float(p90), "p99": float(p99), "mean": float(a.mean()),
            "min": float(a.min()), "max": float(a.max())}


def run(model: str | os.PathLike[str], *, device: str = "cpu", batches: Sequence[int] = (1,),
        frames: str = "1920x1080", iters: int = 50, warmup: int = 5, progress: bool = True,
        **detector_options: Any) -> dict[str, Any]:
    """Benchmarks ``Detector.detect`` on ``model``; returns the JSON-ready report.

    Each batch size runs ``warmup`` untimed calls, then ``iters`` timed calls of
    ``detect([frame] * batch)``. ``latency_ms`` is per call; ``stages_ms`` sums each stage over the
    call (all keys of ``Detector.timings``: preprocess, inference, postprocess, and transfers
    where a GPU backend reports them); ``overhead_ms`` is wall - inference.
    """
    from tqdm import tqdm

    from ..detector import Detector
    from . import environment

    if iters < 1 or warmup < 0:
        raise ValueError(f"--iters must be >= 1 and --warmup >= 0, got {iters} and {warmup}")
    check_device(device)
    det = Detector(model, device=device, **detector_options)
    pool, described = load_frames(frames, max(batches))
    report: dict[str, Any] = {
        "model": str(model), "device": device, "backend": det.backend, "frames": described,
        "input": list(det.input_size), "model_batch": det.info.input_shape[0], "iters": iters, "warmup": warmup,
        "environment": environment.describe(), "results": [],
    }
    total = sum(iters + warmup for _ in batches)
    with tqdm(total=total, unit="call", file=sys.stderr, disable=not progress, leave=False) as bar:
        for batch in batches:
            inputs = pool[:batch]
            call = (lambda: det.detect(inputs[0])) if batch == 1 else (lambda: det.detect(inputs))
            bar.set_description(f"batch {batch} warm-up")
            for _ in range(warmup):
                call()
                bar.update()
            bar.set_description(f"batch {batch}")
            wall: list[int] = []
            stages: dict[str, list[int]] = {}
            for _ in range(iters):
                t0 = time.perf_counter_ns()
                call()
                wall.append(time.perf_counter_ns() - t0)
                for k, v in det.timings.items():
                    stages.setdefault(k, []).append(int(v))
                bar.update()
            inference = stages.get("inference", [0] * iters)
            report["results"].append({
                "batch": batch,
                "latency_ms": _summary(wall),
                "per_frame_ms": _summary([w / batch for w in wall]),
                "stages_ms": {k: _summary(v) for k, v in stages.items()},
                "overhead_ms": _summary([w - i for w, i in zip(wall, inference)]),
                "throughput_fps": batch * iters / (sum(wall) / 1e9),
                "samples_ms": [w / 1e6 for w in wall],
            })
    return report


def format_report(report: dict[str, Any]) -> str:
    """A plain-text table of a report."""
    env = report["environment"]
    gpu = ", ".join(env["gpus"]) or "none"
    lines = [
        f"model:   {report['model']} (input {report['input'][1]}x{report['input'][0]}, "
        f"model batch {report['model_batch'] or 'dynamic'})",
        f"device:  {report['device']} via {report['backend']}; frames {report['frames']}; "
        f"{report['iters']} calls after {report['warmup']} warm-up",
        f"machine: {env['cpu']}, {env['usable_cpus']} usable CPUs, GPU {gpu}",
        "",
    ]
    stages = list(dict.fromkeys(k for r in report["results"] for k in r["stages_ms"]))
    header = ["batch", "p50 ms", "p90 ms", "p99 ms", *[f"{s} ms" for s in stages], "overhead ms", "frames/s"]
    rows = [header]
    for r in report["results"]:
        lat = r["latency_ms"]
        rows.append([str(r["batch"]), f"{lat['p50']:.2f}", f"{lat['p90']:.2f}", f"{lat['p99']:.2f}",
                     *[f"{r['stages_ms'][s]['p50']:.2f}" if s in r["stages_ms"] else "-" for s in stages],
                     f"{r['overhead_ms']['p50']:.2f}", f"{r['throughput_fps']:.1f}"])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in rows]
    lines.append("stage times are p50 per call (all frames of the batch); overhead = wall - inference")
    return "\n".join(lines)
