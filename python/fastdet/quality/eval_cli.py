"""`fastdet eval MODEL DATA`: COCO metrics against ground truth (YOLO labels or COCO JSON), as a
table, a JSON report and plots; with ``--sizes`` / ``--backends``, the accuracy/latency table."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HELP = "evaluate a model against ground truth (COCO mAP by pycocotools)"


def add_common(p: argparse.ArgumentParser) -> None:
    """Options shared with `fastdet promote`: how the data is read and the detector run."""
    p.add_argument("--conf", type=float, default=0.001, help="score threshold (default 0.001, as ultralytics' val)")
    p.add_argument("--iou", type=float, default=0.7, help="NMS IoU threshold (default 0.7)")
    p.add_argument("--max-det", type=int, default=300, help="boxes per image from the detector (default 300)")
    p.add_argument("--coco-max-dets", type=int, default=100,
                   help="boxes per image COCOeval scores (default 100, COCO's own: comparable with published mAP)")
    p.add_argument("--split", choices=("train", "val", "test"), default=None,
                   help="for a dataset YAML: which split (default val)")
    p.add_argument("--images", default=None, help="for COCO JSON: the images folder (default images/ beside it)")
    p.add_argument("--strict", action="store_true", help="any dataset problem is an error, not a counted warning")
    p.add_argument("--limit", type=int, default=None, help="first N images only")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="ONNX detector, OpenVINO IR or export folder")
    p.add_argument("data", help="images folder (YOLO layout), split file (.txt), dataset YAML, or COCO JSON")
    p.add_argument("--backend", default="auto", help="backend (default auto; see `fastdet info`)")
    p.add_argument("--precision", default=None, help="OpenVINO inference precision: auto (bf16 where the CPU has it) "
                                                     "or fp32")
    add_common(p)
    p.add_argument("--json", action="store_true", help="print the JSON report instead of the table")
    p.add_argument("--report", metavar="FILE", help="also write the JSON report to FILE")
    p.add_argument("--plot", metavar="DIR", help="write ap_per_class.png to DIR, and pr_person.png when the "
                                                 "model has a class named person and the data has persons")
    p.add_argument("--save-coco", metavar="DIR",
                   help="write ground_truth.json and predictions.json (COCO format) to DIR, to rescore elsewhere")
    p.add_argument("--test", action="store_true", help="allow the sealed test split (the look is logged beside it)")
    p.add_argument("--sizes", default=None, help="e.g. 320,416,640: evaluate the model resized to each size")
    p.add_argument("--backends", default=None, help="with --sizes: comma-separated backends (default: --backend)")
    p.add_argument("--budget-ms", type=float, default=None,
                   help="with --sizes: name the most accurate configuration whose median latency fits")
    # Default None (filled in by run_sweep): --metric given without --budget-ms is refused, not ignored.
    p.add_argument("--metric", default=None, choices=("map50_95", "map50", "person_ap50_95", "person_ap50"),
                   help="with --budget-ms: what it maximises (default map50_95)")
    ray = p.add_argument_group("Ray Data (pip install 'fastdet[ray]'): predictions in parallel, metrics once")
    ray.add_argument("--ray", action="store_true", help="make the predictions on Ray Data")
    ray.add_argument("--address", default=None, help="with --ray: an existing cluster (default: start one here)")
    # Defaults None (filled in by run): an option given without --ray is refused, not ignored.
    ray.add_argument("--actors", type=int, default=None, help="with --ray: Detectors at once (default 1)")
    ray.add_argument("--cpus-per-actor", type=float, default=None, help="with --ray: CPUs per actor (default 1)")
    ray.add_argument("--batch-size", type=int, default=None, help="with --ray: images per batch (default 16)")


#: The Ray options' defaults (None in the parser, so that one given without --ray is seen).
RAY_DEFAULTS = {"address": None, "actors": 1, "cpus_per_actor": 1.0, "batch_size": 16}

#: What --budget-ms maximises when --metric is not given.
DEFAULT_METRIC = "map50_95"

#: What eval writes besides its table, and whether each option names a file or a folder.
OUTPUTS = {"report": ("--report", "file"), "plot": ("--plot", "folder"), "save_coco": ("--save-coco", "folder")}


def _options(args: argparse.Namespace) -> dict:
    return {"conf": args.conf, "iou": args.iou, "max_det": args.max_det}


def _backend_options(args: argparse.Namespace) -> dict:
    return {"precision": args.precision} if args.precision else {}


def run_sweep(args: argparse.Namespace) -> int:
    from ..errors import InputError
    from . import sweep
    from .resize_model import parse_sizes

    if args.test:
        raise InputError("--test with --sizes: choosing a size or backend is model selection; run it on validation data")
    sizes = parse_sizes(args.sizes)
    backends = [b.strip() for b in (args.backends or args.backend).split(",") if b.strip()]
    rows = sweep.run_sweep(args.model, args.data, sizes, backends, options={**_options(args), **_backend_options(args)},
                           coco_max_dets=args.coco_max_dets, split=args.split, images=args.images, strict=args.strict,
                           limit=args.limit, progress=not args.json)
    metric = args.metric or DEFAULT_METRIC
    best = sweep.best_within(rows, args.budget_ms, metric) if args.budget_ms is not None else None
    if args.json:
        out = {"rows": [vars(r) for r in rows]}
        if args.budget_ms is not None:
            out["budget_ms"] = args.budget_ms
            out["best"] = vars(best) if best else None
        json.dump(out, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        print(sweep.table(rows))
        if args.budget_ms is not None:
            print(f"within {args.budget_ms:g} ms (median per image, this machine): " +
                  (f"{best.size} px on {best.backend} ({best.precision}), {metric} {getattr(best, metric):.4f}, "
                   f"{best.latency['p50_ms']:.1f} ms" if best else "no configuration fits"))
    return 0


def check(args: argparse.Namespace) -> None:
    """Every check of the arguments that needs no model and no data: bad combinations, an empty
    data path, output paths that could not be written. Run before any work."""
    from ..errors import InputError
    from ..cli_arguments import data_path, finite, output_file, output_folder

    data_path(args.data)
    finite(args.conf, "--conf", 0, 1)
    finite(args.iou, "--iou", 0, 1)
    finite(args.budget_ms, "--budget-ms", 0, low_open=True)
    finite(args.cpus_per_actor, "--cpus-per-actor", 0, low_open=True)
    for flag, value in (("--max-det", args.max_det), ("--coco-max-dets", args.coco_max_dets), ("--limit", args.limit),
                        ("--actors", args.actors), ("--batch-size", args.batch_size)):
        if value is not None and value < 1:
            raise InputError(f"{flag}: expected 1 or more, got {value}")
    if args.images is not None:
        data_path(args.images, "--images")
    if not args.ray:
        given = [name for name in RAY_DEFAULTS if getattr(args, name) is not None]
        if given:
            raise InputError(f"--{given[0].replace('_', '-')} goes with --ray")
    if args.metric is not None and args.budget_ms is None:
        raise InputError(f"--metric {args.metric} goes with --budget-ms (it names what the --sizes sweep maximises "
                         f"within the budget); give --sizes and --budget-ms, or leave --metric out")
    if args.ray and args.sizes:
        raise InputError("--ray evaluates one configuration; run --sizes locally")
    if args.sizes:
        # The sweep prints its accuracy/latency table (or --json) only.
        given = [flag for key, (flag, _) in OUTPUTS.items() if getattr(args, key) is not None]
        if given:
            raise InputError(f"{given[0]} is for one evaluation, not --sizes (which prints its table, or --json)")
    elif args.backends or args.budget_ms is not None:
        raise InputError("--backends and --budget-ms go with --sizes")
    for key, (flag, kind) in OUTPUTS.items():
        value = getattr(args, key)
        if value is not None:
            (output_file if kind == "file" else output_folder)(value, flag)


def run(args: argparse.Namespace) -> int:
    from .evaluation import evaluate_model

    check(args)
    if args.sizes:
        return run_sweep(args)
    predictor = None
    if args.ray:
        from ..ray import predictor as ray_predictor

        ray_options = {k: default if getattr(args, k) is None else getattr(args, k)
                       for k, default in RAY_DEFAULTS.items()}
        predictor = ray_predictor(args.model, **ray_options, backend=args.backend, **_options(args),
                                  **_backend_options(args))
    ev = evaluate_model(args.model, args.data, backend=args.backend, backend_options=_backend_options(args),
                        **_options(args), coco_max_dets=args.coco_max_dets, split=args.split, images=args.images,
                        allow_test=args.test, strict=args.strict, limit=args.limit, progress=not args.json,
                        predictor=predictor)
    if args.report is not None:
        Path(args.report).expanduser().write_text(json.dumps(ev.report, indent=1) + "\n")
    if args.save_coco is not None:
        from .coco_eval import result_rows

        folder = Path(args.save_coco).expanduser()
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "ground_truth.json").write_text(json.dumps(ev.gt.to_coco(ev.predictions.shapes)))
        (folder / "predictions.json").write_text(json.dumps(result_rows(ev.gt, ev.predictions)))
    if args.plot is not None:
        from .eval_plot import plot

        written = plot(ev.metrics, ev.gt.names, Path(args.plot).expanduser(), f"{Path(args.model).name}")
        print("plots: " + ", ".join(str(p) for p in written), file=sys.stderr)
    if args.json:
        json.dump(ev.report, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        from .eval_report import table

        print(table(ev.report))
    return 0
