"""The `fastdet` command line: detect, info (and the subcommands other modules add)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Callable, Sequence

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


def _image_files(sources: Sequence[str]) -> list[Path]:
    files: list[Path] = []
    for s in sources:
        p = Path(s)
        if p.is_dir():
            found = sorted(q for q in p.rglob("*") if q.suffix.lower() in IMAGE_SUFFIXES and q.is_file())
            if not found:
                raise SystemExit(f"fastdet: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in folder {s!r}")
            files.extend(found)
        elif p.is_file():
            files.append(p)
        else:
            raise SystemExit(f"fastdet: no such file or folder: {s!r}")
    return files


def _add_detect_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", "-m", help="ONNX detector (default: $FASTDET_MODEL, else the embedded YOLOX-Nano; "
                                         "see `fastdet models`)")
    p.add_argument("--backend", default="auto", help="auto, tensorrt, onnxruntime-cuda or onnxruntime-cpu")
    p.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: any)")
    p.add_argument("--conf", type=float, default=0.25, help="score threshold (default 0.25)")
    p.add_argument("--iou", type=float, default=0.7, help="NMS IoU threshold (default 0.7)")
    p.add_argument("--max-det", type=int, default=300, help="boxes per image (default 300)")
    p.add_argument("--classes", default=None, help="comma-separated class ids or names to keep")
    p.add_argument("--agnostic", action="store_true", help="class-agnostic NMS")


def _detector_from_args(args: argparse.Namespace):  # -> Detector
    from .detector import Detector

    classes = None
    if args.classes:
        classes = [int(c) if c.strip().isdigit() else c.strip() for c in args.classes.split(",") if c.strip()]
    return Detector(args.model, backend=args.backend, device=args.device, conf=args.conf, iou=args.iou,
                    max_det=args.max_det, classes=classes, agnostic=args.agnostic)


def cmd_detect(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .frames import read_image

    files = _image_files(args.sources)
    det = _detector_from_args(args)
    save = Path(args.save) if args.save else None
    if save:
        save.mkdir(parents=True, exist_ok=True)
    records = []
    bar = tqdm(files, unit="img", disable=len(files) < 2 or None, file=sys.stderr)
    for f in bar:
        frame = read_image(f)
        dets = det.detect(frame)
        if save:
            dets.save(save / f.name, frame.pixels, rgb=frame.rgb)
        if args.json:
            records.append({"image": str(f), "height": dets.image_shape[0], "width": dets.image_shape[1],
                            "detections": dets.to_list()})
        else:
            counts: dict[str, int] = {}
            for b in dets:
                counts[b.name] = counts.get(b.name, 0) + 1
            summary = ", ".join(f"{n} {name}" for name, n in counts.items()) or "nothing"
            tqdm.write(f"{f}: {summary}", file=sys.stdout)
    if args.json:
        json.dump(records, sys.stdout, indent=1)
        sys.stdout.write("\n")
    if save:
        print(f"annotated images saved to {save}/", file=sys.stderr)
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from . import _core, backends, default_model
    from .backends.onnxruntime_cpu import open_session, session_options
    from .model import check_model_path, describe_session

    path = check_model_path(args.model)
    embedded = path == default_model.PATH
    import onnxruntime as ort

    so = session_options()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    info = describe_session(path, open_session(path, ["CPUExecutionProvider"], so))
    b, _, h, w = info.input_shape
    head = info.head
    lines = [
        f"model:     {path}" + (f"\n           {default_model.DESCRIPTION}" if embedded else ""),
        f"format:    {info.format} ({_core.HeadFormat(head.format).name}), output {info.output_name} "
        f"{tuple('B' if d is None else d for d in info.output_shape)}",
        f"input:     {info.input_name} [{'B' if b is None else b}, 3, {h}, {w}]"
        + (" (dynamic batch)" if b is None else ""),
        f"task:      {info.task}",
        f"classes:   {len(info.names)}: " + ", ".join(f"{k}={v}" for k, v in list(info.names.items())[:8])
        + (", ..." if len(info.names) > 8 else ""),
        f"recipe:    {info.recipe!r}",
        "backends:",
    ]
    for name, reason in backends.availability().items():
        lines.append(f"  {name:18s} {'available' if reason is None else 'unavailable: ' + reason}")
    cuda = "yes" if _core.cuda_available() else ("no GPU found" if _core.built_with_cuda else "not built with CUDA")
    lines.append(f"cuda:      {cuda}")
    if args.json:
        json.dump({"model": str(path), "embedded": embedded, "format": info.format,
                   "input_shape": list(info.input_shape), "output_shape": list(info.output_shape),
                   "names": info.names, "metadata": info.metadata, "backends": backends.availability()},
                  sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        print("\n".join(lines))
    return 0


#: Subcommands: name -> (help, add-arguments, run). Other modules register theirs here.
COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]] = {}


def _detect_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("sources", nargs="+", help="image files or folders")
    _add_detect_options(p)
    p.add_argument("--save", metavar="DIR", help="write annotated images to DIR")
    p.add_argument("--json", action="store_true", help="print detections as JSON")


def _info_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", nargs="?", help="ONNX detector (default: $FASTDET_MODEL, else the embedded one)")
    p.add_argument("--json", action="store_true", help="print as JSON")


COMMANDS["detect"] = ("detect objects in images", _detect_args, cmd_detect)
COMMANDS["info"] = ("describe a model and the backends available here", _info_args, cmd_info)
from .bench import cli as _bench_cli  # noqa: E402,F401  registers `fastdet bench`

from . import engine_cli  # noqa: E402,F401  registers `fastdet build`
from . import models_cli  # noqa: E402,F401  registers `fastdet models`


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="fastdet", description="Fast, exact YOLO-family detection.")
    parser.add_argument("--version", action="version", version=f"fastdet {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more (-v info, -vv debug)")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_text, add_args, run) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text)
        add_args(p)
        p.set_defaults(run=run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=[logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)],
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.run(args)
    except (ValueError, FileNotFoundError, RuntimeError, ImportError) as e:
        print(f"fastdet: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
