"""`fastdet profile DATA -o ref.json`: the reference profile a drift Monitor compares with."""

from __future__ import annotations

import argparse
import sys

HELP = "reference profile of validation images or video, for drift monitoring (fastdet.Monitor)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("data", help="images folder, split file (.txt) or video file")
    p.add_argument("-o", "--out", required=True, help="profile JSON to write")
    p.add_argument("--model", "-m", default=None, help="the deployed model (default: $FASTDET_MODEL, else embedded)")
    p.add_argument("--backend", default="auto")
    p.add_argument("--conf", type=float, default=0.25, help="score threshold of the deployed detector (default 0.25)")
    p.add_argument("--frames", default=None, help="START:STOP[:STEP] of the frames or images (default all)")


def run(args: argparse.Namespace) -> int:
    from ..detector import Detector
    from ..cli_arguments import data_path, finite, output_file
    from .drift_profile import build_profile
    from .frame_source import frames_of, parse_range

    # Checked before the model loads and the frames are read: a bad path is not found at the end.
    data_path(args.data)
    finite(args.conf, "--conf", 0, 1)
    out = output_file(args.out, "-o/--out")
    frames = parse_range(args.frames)
    det = Detector(args.model, backend=args.backend, conf=args.conf)
    profile = build_profile(det, frames_of(args.data, frames), source=str(args.data))
    profile.save(out)
    res = ", ".join(f"{w}x{h}" for h, w in profile.resolutions[:4])
    means = ", ".join(f"{k} {v.mean():.3g}" for k, v in profile.samples.items() if len(v))
    print(f"{args.out}: {profile.frames} frames ({res}), model input {profile.input_size[1]}x{profile.input_size[0]}, "
          f"conf {profile.conf:g}; means: {means}", file=sys.stderr)
    return 0
