"""Drift monitoring, measured: the false-alarm rate of ``fastdet.Monitor`` on a stream like its
reference, and how many frames it takes to alarm on shifted streams.

    python bench/drift.py [--model yolov8n_w8.onnx] [--video pets2009_s2l1.avi]
        [--other concourse_crowd.avi] [--frames 10000] [--json out.json]

Reference: the first half of the video (``fastdet profile``'s signals at conf 0.25). Held-out
stream: the second half, played forwards and backwards until ``--frames`` frames (the video has
fewer distinct frames than that; detections are computed once per distinct frame). Shifted
streams start after the monitor has seen ``window`` held-out frames: the same held-out frames
darkened (x0.4), blurred (Gaussian, sigma 3), downscaled to half size, and the other video as a
new camera. Each shifted stream runs until the first drift alert of a signal (resolution alerts
come first where the frame size changed) or ``--max-shifted`` frames.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

from assets import ASSETS  # noqa: E402 - run as a script from bench/


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path, default=ASSETS / "models" / "yolov8n_w8.onnx")
    p.add_argument("--video", type=Path, default=ASSETS / "videos" / "pets2009_s2l1.avi")
    p.add_argument("--other", type=Path, default=ASSETS / "videos" / "concourse_crowd.avi")
    p.add_argument("--backend", default="auto")
    p.add_argument("--frames", type=int, default=10_000, help="length of the like-the-reference stream")
    p.add_argument("--max-shifted", type=int, default=3000)
    p.add_argument("--window", type=int, default=300)
    p.add_argument("--check-every", type=int, default=30)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)

    import cv2

    from fastdet import Detector, Monitor
    from fastdet.quality.drift_profile import profile_from_signals
    from fastdet.quality.drift_signals import frame_signals
    from fastdet.quality.eval_report import person_class
    from fastdet.quality.frame_source import video_frames

    t0 = time.perf_counter()
    det = Detector(args.model, backend=args.backend, conf=0.25)
    person = person_class(det.names)
    frames = list(video_frames(args.video))
    half = len(frames) // 2
    reference, held_out = frames[:half], frames[half:]

    def detect_all(stream: list[np.ndarray]) -> list:
        return [det.detect(f) for f in stream]

    profile = profile_from_signals(
        (frame_signals(f, d.xyxy, d.scores, d.class_ids, person) for f, d in zip(reference, detect_all(reference))),
        input_size=det.input_size, conf=0.25, person_class=person, source=str(args.video))
    held_dets = detect_all(held_out)
    print(f"{args.video.name}: {len(frames)} frames, reference {len(reference)}, held-out {len(held_out)} "
          f"({det.backend}); {time.perf_counter() - t0:.0f} s", file=sys.stderr)

    def monitor() -> Monitor:
        return Monitor(profile, window=args.window, check_every=args.check_every, metrics=False)

    # Like the reference: the held-out half, forwards then backwards, repeated.
    order = list(range(len(held_out))) + list(range(len(held_out) - 2, 0, -1))
    m = monitor()
    checks = drifting_checks = 0
    max_psi: dict[str, float] = {}
    for i in range(args.frames):
        k = order[i % len(order)]
        before = m.frames
        m.observe(held_out[k], held_dets[k])
        if before + 1 >= m.min_frames and m.frames % m.check_every == 0:
            checks += 1
            drifting_checks += bool(m.drifting)
            for s, d in m.status().items():
                max_psi[s] = max(max_psi.get(s, 0.0), d.psi)
    false_alarms = [a for a in m.alerts]
    result = {
        "video": args.video.name, "model": args.model.name, "backend": det.backend, "window": args.window,
        "check_every": args.check_every, "reference_frames": len(reference), "held_out_frames": len(held_out),
        "stream_frames": args.frames, "false_alarms": len(false_alarms),
        "false_alarm_signals": sorted({a.signal for a in false_alarms}), "checks": checks,
        "checks_drifting": drifting_checks, "max_psi_like_reference": {k: round(v, 3) for k, v in max_psi.items()},
        "shifted": {},
    }
    print(f"like the reference: {len(false_alarms)} alerts in {args.frames} frames ({checks} checks, "
          f"{drifting_checks} with a drifting signal); max PSI {result['max_psi_like_reference']}", file=sys.stderr)

    shifts: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "darkened x0.4": lambda f: (f.astype(np.float32) * 0.4).astype(np.uint8),
        "blurred (sigma 3)": lambda f: cv2.GaussianBlur(f, (0, 0), 3),
        "downscaled to half": lambda f: cv2.resize(f, (f.shape[1] // 2, f.shape[0] // 2), interpolation=cv2.INTER_AREA),
    }
    streams: dict[str, tuple[list[np.ndarray], list]] = {}
    for name, shift in shifts.items():
        shifted = [shift(f) for f in held_out]
        streams[name] = (shifted, detect_all(shifted))
    other = list(video_frames(args.other))
    streams[f"other camera ({args.other.name})"] = (other, detect_all(other))
    for name, (stream, dets) in streams.items():
        m = monitor()
        for k in range(args.window):  # a monitor that has been watching the normal stream
            m.observe(held_out[k % len(held_out)], held_dets[k % len(held_out)])
        m.alerts.clear()
        until = until_drift = None
        for i in range(args.max_shifted):
            j = order[i % len(order)] if len(stream) == len(held_out) else i % len(stream)
            raised = m.observe(stream[j], dets[j])
            if raised and until is None:
                until = i + 1
            if any(a.kind == "drift" for a in raised):
                until_drift = i + 1
                break
        first = [{"signal": a.signal, "kind": a.kind, "frame": a.frame - args.window} for a in m.alerts]
        result["shifted"][name] = {"frames_until_alarm": until, "frames_until_signal_drift": until_drift,
                                   "alerts": first}
        print(f"{name}: first alarm after {until} frames, first signal drift after {until_drift}: "
              f"{', '.join(a['signal'] + ' (' + a['kind'] + ')' for a in first)}", file=sys.stderr)
    result["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
