"""Pipelined vs sequential detection on video files, and the ideal from the stage times.

    python -m bench.video_pipeline [--videos A.avi,B.avi] [--model M.onnx] [--backends auto,onnxruntime-cpu]
                                   [--threads N] [--rounds 2] [--encode] [--json out.json]

Defaults: both videos and the fp32 ``yolov8n_w8.onnx`` of ``$FASTDET_ASSETS`` (else ../shared/assets
beside the checkout). Per video and backend, alternating in each round:

- sequential: read a frame (``VideoCapture.read``), ``Detector.detect`` it, one after the other;
  the same pass times each stage: read, preprocess (letterbox), inference, postprocess (decode +
  NMS), and with ``--encode`` annotating and encoding the output video;
- pipelined: ``Detector.stream(video)`` (reader, letterbox, inference and decode threads; the
  encoding, with ``--encode``, in the loop that consumes the stream).

ideal = frames / max(inference, everything else): what perfect overlap of the stages would give
when they do not compete for cores. Reported: medians over rounds of frames/s for each, and
pipelined / sequential and pipelined / ideal.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .assets import ASSETS



def _writer(path: Path, fps: float, size: tuple[int, int]) -> Any:
    import cv2

    return cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (size[1], size[0]))


def sequential(det: Any, video: Path, encode: Path | None) -> dict[str, Any]:
    """One pass, one frame after another; per-stage totals in seconds."""
    import cv2

    cap = cv2.VideoCapture(str(video))
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    stages = {"read": 0, "preprocess": 0, "inference": 0, "postprocess": 0, "encode": 0}
    writer = None
    frames = 0
    start = time.perf_counter_ns()
    while True:
        t0 = time.perf_counter_ns()
        ok, frame = cap.read()
        t1 = time.perf_counter_ns()
        if not ok:
            break
        stages["read"] += t1 - t0
        dets = det.detect(frame)
        for k in ("preprocess", "inference", "postprocess"):
            stages[k] += det.timings[k]
        if encode is not None:
            t2 = time.perf_counter_ns()
            if writer is None:
                writer = _writer(encode, fps, frame.shape[:2])
            writer.write(dets.plot(frame))
            stages["encode"] += time.perf_counter_ns() - t2
        frames += 1
    wall = (time.perf_counter_ns() - start) / 1e9
    cap.release()
    if writer is not None:
        writer.release()
    seconds = {k: v / 1e9 for k, v in stages.items()}
    seconds["other"] = max(wall - sum(seconds.values()), 0.0)  # Python around the calls
    return {"frames": frames, "wall_s": wall, "stages_s": seconds}


def pipelined(det: Any, video: Path, encode: Path | None, in_flight: int) -> dict[str, Any]:
    writer = None
    frames = 0
    start = time.perf_counter()
    for _, _, frame, dets in det.stream(video, in_flight=in_flight):
        if encode is not None:
            if writer is None:
                writer = _writer(encode, 25.0, frame.shape[:2])
            writer.write(dets.plot(frame))
        frames += 1
    wall = time.perf_counter() - start
    if writer is not None:
        writer.release()
    return {"frames": frames, "wall_s": wall}


def measure(model: Path, video: Path, backend: str, *, threads: int | None, rounds: int, encode: bool,
            in_flight: int) -> dict[str, Any]:
    import fastdet

    options: dict[str, Any] = {"backend": backend}
    if threads:
        options["threads"] = threads
    det = fastdet.Detector(model, **options)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.mp4" if encode else None
        det.detect(next(iter(det.stream(video))).frame)  # warm-up: first-call allocations, compilation
        seq, pipe = [], []
        for r in range(rounds):
            order = (0, 1) if r % 2 == 0 else (1, 0)  # alternate which goes first
            for which in order:
                if which == 0:
                    seq.append(sequential(det, video, out))
                else:
                    pipe.append(pipelined(det, video, out, in_flight))
    frames = seq[0]["frames"]
    assert all(p["frames"] == frames for p in pipe), "the stream lost or added frames"
    seq_wall = statistics.median(s["wall_s"] for s in seq)
    pipe_wall = statistics.median(p["wall_s"] for p in pipe)
    stages = {k: statistics.median(s["stages_s"][k] for s in seq) for k in seq[0]["stages_s"]}
    inference = stages["inference"]
    rest = seq_wall - inference
    ideal_wall = max(inference, rest)
    return {
        "video": video.name, "backend": det.backend, "threads": threads, "encode": encode, "frames": frames,
        "rounds": rounds, "in_flight": in_flight,
        "ms_per_frame": {k: 1000 * v / frames for k, v in stages.items()},
        "sequential_fps": frames / seq_wall, "pipelined_fps": frames / pipe_wall, "ideal_fps": frames / ideal_wall,
        "speedup": seq_wall / pipe_wall, "ideal_speedup": seq_wall / ideal_wall,
        "of_ideal": ideal_wall / pipe_wall,
    }


def format_rows(rows: list[dict[str, Any]]) -> str:
    header = ["video", "backend", "threads", "encode", "frames", "read", "pre", "infer", "post", "enc", "seq fps",
              "pipe fps", "ideal fps", "speed-up", "of ideal"]
    table = [header]
    for r in rows:
        ms = r["ms_per_frame"]
        table.append([r["video"], r["backend"], str(r["threads"] or "default"), "yes" if r["encode"] else "no",
                      str(r["frames"]), *(f"{ms[k]:.1f}" for k in ("read", "preprocess", "inference", "postprocess",
                                                                   "encode")),
                      f"{r['sequential_fps']:.1f}", f"{r['pipelined_fps']:.1f}", f"{r['ideal_fps']:.1f}",
                      f"{r['speedup']:.2f}x", f"{100 * r['of_ideal']:.0f}%"])
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in table]
    lines.append("stage columns: ms per frame in the sequential pass; ideal = frames / max(inference, the rest)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--videos", default=",".join(str(ASSETS / "videos" / v) for v in
                                                ("pets2009_s2l1.avi", "concourse_crowd.avi")))
    p.add_argument("--model", default=str(ASSETS / "models" / "yolov8n_w8.onnx"))
    p.add_argument("--backends", default="auto")
    p.add_argument("--threads", type=int, default=None, help="inference threads (default: the backend's)")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--in-flight", type=int, default=3)
    p.add_argument("--encode", action="store_true", help="also annotate and encode the output video in the loop")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    rows = []
    for video in args.videos.split(","):
        for backend in args.backends.split(","):
            row = measure(Path(args.model), Path(video), backend, threads=args.threads, rounds=args.rounds,
                          encode=args.encode, in_flight=args.in_flight)
            rows.append(row)
            print(format_rows([row]).splitlines()[1], file=sys.stderr, flush=True)
    from fastdet.bench import environment

    print(format_rows(rows))
    if args.json:
        Path(args.json).write_text(json.dumps({"environment": environment.describe(), "results": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
