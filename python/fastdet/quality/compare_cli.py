"""`fastdet compare MODEL --backend A --backend B --data DIR` (or `fastdet compare MODEL_A MODEL_B`):
box-level agreement of two detectors on the same images, with gates for CI."""

from __future__ import annotations

import argparse
import json
import sys

HELP = "box-level agreement of two backends or two models on a folder (gates for CI)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("models", nargs="+", metavar="MODEL", help="one model (then two --backend) or two models")
    p.add_argument("--data", required=True, help="images folder or split file (.txt)")
    p.add_argument("--backend", action="append", default=[],
                   help="backend, optionally with an OpenVINO precision as NAME:PRECISION (openvino-cpu:fp32); "
                        "give it twice to compare two backends, once (or not) for two models")
    p.add_argument("--conf", type=float, default=0.25, help="score threshold of both sides (default 0.25)")
    p.add_argument("--iou", type=float, default=0.7, help="NMS IoU threshold of both sides (default 0.7)")
    p.add_argument("--match-iou", type=float, default=0.5,
                   help="IoU at which two boxes of a class pair, in (0, 1] (default 0.5)")
    p.add_argument("--limit", type=int, default=None, help="first N images only")
    p.add_argument("--fail-under", action="append", default=[], metavar="NAME=VALUE",
                   help="exit 1 when a figure is below VALUE: agreement, matched_a, matched_b, equal_counts, "
                        "iou_median, iou_min (repeat or comma-separate)")
    p.add_argument("--max-score-diff", type=float, default=None, help="exit 1 when a matched pair's scores differ more")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")


def _side(spec: str) -> tuple[str, dict]:
    name, _, precision = spec.partition(":")
    return name, ({"precision": precision} if precision else {})


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..detector import Detector
    from ..errors import InputError
    from ..frames import read_image
    from ..cli_arguments import data_path, finite
    from .compare import Agreement, failures, parse_thresholds
    from .yolo_data import list_images

    data_path(args.data, "--data")
    finite(args.conf, "--conf", 0, 1)
    finite(args.iou, "--iou", 0, 1)
    finite(args.match_iou, "--match-iou", 0, 1, low_open=True)
    if len(args.models) > 2:
        raise InputError(f"compare: expected one model and two --backend, or two models; got {len(args.models)} models")
    if len(args.models) == 1 and len(args.backend) != 2:
        raise InputError("compare: one model needs two --backend options (e.g. --backend onnxruntime-cpu "
                         "--backend openvino-cpu)")
    if len(args.backend) > 2:
        raise InputError("compare: at most two --backend options")
    if args.limit is not None and args.limit < 1:
        raise InputError(f"compare: --limit must be 1 or more, got {args.limit}")
    finite(args.max_score_diff, "--max-score-diff", 0)
    gates = parse_thresholds(args.fail_under)
    models = args.models * 2 if len(args.models) == 1 else args.models
    specs = (args.backend * 2 if len(args.backend) == 1 else args.backend) or ["auto", "auto"]
    detectors = []
    for model, spec in zip(models, specs):
        name, options = _side(spec)
        detectors.append(Detector(model, backend=name, conf=args.conf, iou=args.iou, **options))
    images = list_images(args.data)[: args.limit]
    agreement = Agreement()
    skipped = 0
    for path in tqdm(images, unit="img", file=sys.stderr, disable=len(images) < 2 or args.json or None):
        try:
            frame = read_image(path)
        except InputError as e:
            skipped += 1
            tqdm.write(f"fastdet: {path}: {e} (skipped)", file=sys.stderr)
            continue
        agreement.add(detectors[0].detect(frame), detectors[1].detect(frame), args.match_iou)
    if not agreement.images:
        # Agreement over nothing is 1.0 by convention; no gate may pass on it.
        raise InputError(f"compare: no image of {args.data} could be compared ({len(images)} listed, "
                         f"{skipped} undecodable)")
    summary = agreement.summary()
    sides = [f"{m} ({d.backend})" for m, d in zip(models, detectors)]
    failed = failures(summary, gates, args.max_score_diff)
    if args.json:
        json.dump({"a": sides[0], "b": sides[1], "images": agreement.images, "skipped": skipped,
                   "boxes_a": agreement.boxes_a, "boxes_b": agreement.boxes_b, "matched": agreement.matched,
                   "unmatched_a": agreement.unmatched_a, "unmatched_b": agreement.unmatched_b, **summary,
                   "failed": failed}, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        print(f"A: {sides[0]}\nB: {sides[1]}\n{agreement.images} images, conf {args.conf}, pairs at IoU >= "
              f"{args.match_iou} within a class")
        print(f"  boxes A {agreement.boxes_a}, B {agreement.boxes_b}; matched {agreement.matched}; unmatched A "
              f"{agreement.unmatched_a}, B {agreement.unmatched_b}")
        print(f"  agreement {summary['agreement']:.4f} (matched / all boxes), matched A {summary['matched_a']:.4f}, "
              f"matched B {summary['matched_b']:.4f}")
        print(f"  images with equal counts {summary['equal_counts']:.4f}; IoU of pairs median "
              f"{summary['iou_median']:.4f}, min {summary['iou_min']:.4f}")
        print(f"  |score A - score B| median {summary['score_diff_median']:.5f}, max {summary['score_diff_max']:.5f}")
    for line in failed:
        print(f"fastdet compare: FAILED: {line}", file=sys.stderr)
    return 1 if failed else 0
