"""`fastdet promote NAME --challenger V --data VAL_SPLIT`: champion against challenger on validation
data, in one run; the decision and its numbers go to the registry."""

from __future__ import annotations

import argparse
import json
import sys

HELP = "evaluate a challenger against the champion on validation data and promote it only if it wins"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="model line in the registry")
    p.add_argument("--challenger", required=True, help="the registered version to try")
    p.add_argument("--data", required=True, help="validation data: split file, folder, dataset YAML (val) or COCO JSON")
    p.add_argument("--root", default=None, help="registry folder (default $FASTDET_REGISTRY, else ~/.fastdet/registry)")
    p.add_argument("--metric", default="person_ap50_95",
                   choices=("person_ap50_95", "person_ap50", "map50_95", "map50"), help="default person_ap50_95")
    p.add_argument("--margin", type=float, default=0.005, help="required gain on the metric (default 0.005)")
    p.add_argument("--budget-ms", type=float, default=None, help="challenger's median latency per image must fit")
    p.add_argument("--max-slowdown", type=float, default=1.25,
                   help="challenger's median latency at most this multiple of the champion's (default 1.25; 0: off)")
    p.add_argument("--backend", default="auto", help="backend both run on (default auto)")
    p.add_argument("--precision", default=None, help="OpenVINO inference precision (auto or fp32)")
    p.add_argument("--split", choices=("train", "val"), default=None, help="for a dataset YAML (default val)")
    p.add_argument("--images", default=None, help="for COCO JSON: the images folder")
    p.add_argument("--strict", action="store_true", help="any dataset problem is an error")
    p.add_argument("--limit", type=int, default=None, help="first N images only")
    p.add_argument("--json", action="store_true", help="print the decision as JSON")


def run(args: argparse.Namespace) -> int:
    from ..errors import InputError
    from ..cli_arguments import data_path
    from .promote import Policy, promote
    from .registry import Registry

    if args.root is not None and not args.root.strip():
        raise InputError("--root: an empty path (leave it out for $FASTDET_REGISTRY or ~/.fastdet/registry)")
    data_path(args.data, "--data")
    if args.images is not None:
        data_path(args.images, "--images")
    policy = Policy(args.metric, args.margin, args.budget_ms, args.max_slowdown or None)
    decision = promote(Registry(args.root), args.name, args.challenger, args.data, policy=policy, backend=args.backend,
                       backend_options={"precision": args.precision} if args.precision else None, split=args.split,
                       images=args.images, strict=args.strict, limit=args.limit, progress=not args.json)
    if args.json:
        json.dump(decision, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    m = args.metric
    print(f"{args.name} on {args.data} ({decision['data']['images']} images), {decision['champion']['backend']['name']} "
          f"{decision['champion']['backend']['precision']}")
    print(f"  {'role':10s} {'version':8s} {m:>14s} {'mAP50-95':>8s} {'p50 ms':>7s}")
    for role in ("champion", "challenger"):
        side = decision[role]
        print(f"  {role:10s} {side['version']:8s} {side['metrics'][m]:14.4f} {side['metrics']['map50_95']:8.4f} "
              f"{side['latency_ms']['p50_ms']:7.1f}")
    print(f"{decision['reason']}\ndecision written to {decision['file']}")
    return 0
