"""`fastdet detect`: images and folders in, detections out (text, JSON, annotated images).

A user's mistake costs one line and a non-zero exit, never a traceback; one bad image in a folder
is reported and skipped, the rest still processed (and, with --json, printed), and the exit status
says how many failed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Sequence

from .errors import InputError

HELP = "detect objects in images"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


def image_files(sources: Sequence[str]) -> list[Path]:
    """The image files named by ``sources`` (files, or folders searched recursively), in order."""
    files: list[Path] = []
    for s in sources:
        p = Path(s)
        if p.is_dir():
            if not os.access(p, os.R_OK | os.X_OK):
                raise InputError(f"cannot read folder {s!r} (permission denied)")
            found = sorted(q for q in p.rglob("*") if q.suffix.lower() in IMAGE_SUFFIXES and q.is_file())
            if not found:
                raise InputError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in folder {s!r}")
            files.extend(found)
        elif p.is_file():
            files.append(p)
        else:
            raise InputError(f"no such file or folder: {s!r}")
    return files


def add_detector_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", "-m", help="ONNX detector, OpenVINO IR or export folder (default: $FASTDET_MODEL, "
                                         "else the embedded YOLOX-Nano; see `fastdet models`)")
    p.add_argument("--backend", default="auto", help="auto (default) or a backend name from `fastdet info`")
    p.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: any)")
    p.add_argument("--conf", type=float, default=0.25, help="score threshold (default 0.25)")
    p.add_argument("--iou", type=float, default=0.7, help="NMS IoU threshold (default 0.7)")
    p.add_argument("--max-det", type=int, default=300, help="boxes per image (default 300)")
    p.add_argument("--classes", default=None, help="comma-separated class ids or names to keep")
    p.add_argument("--agnostic", action="store_true", help="class-agnostic NMS")


def parse_classes(text: str | None) -> list[int | str] | None:
    """``"0,car, 2"`` -> [0, "car", 2]; None or empty -> None (every class)."""
    if not text:
        return None
    return [int(c) if c.strip().isdigit() else c.strip() for c in text.split(",") if c.strip()]


def detector_from_args(args: argparse.Namespace):  # -> Detector
    from .detector import Detector

    return Detector(args.model, backend=args.backend, device=args.device, conf=args.conf, iou=args.iou,
                    max_det=args.max_det, classes=parse_classes(args.classes), agnostic=args.agnostic)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("sources", nargs="+", help="image files or folders")
    add_detector_options(p)
    p.add_argument("--save", metavar="DIR", help="write annotated images to DIR")
    p.add_argument("--json", action="store_true", help="print detections as JSON")
    ray = p.add_argument_group("Ray Data (pip install 'fastdet[ray]'): SOURCES are files, folders or globs")
    ray.add_argument("--ray", action="store_true", help="run on Ray Data: one Detector per actor")
    ray.add_argument("--out", metavar="OUT", help="with --ray: OUT.parquet (one file, rows by path) or a folder")
    ray.add_argument("--address", default=None, help="with --ray: an existing cluster (default: start one here)")
    ray.add_argument("--actors", type=int, default=1, help="with --ray: Detectors at once (default 1)")
    ray.add_argument("--cpus-per-actor", type=float, default=1.0, help="with --ray: CPUs per actor (default 1)")
    ray.add_argument("--gpus-per-actor", type=float, default=0.0, help="with --ray: 1 for a GPU backend")
    ray.add_argument("--batch-size", type=int, default=16, help="with --ray: images per batch (default 16)")


def save_folder(path: str) -> Path:
    """The --save folder, created if missing; a clear error when it is a file or not writable."""
    save = Path(path)
    if save.exists() and not save.is_dir():
        raise InputError(f"--save {path!r}: is a file; give a folder for the annotated images")
    try:
        save.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"--save {path!r}: cannot create the folder ({e.strerror or e})") from None
    if not os.access(save, os.W_OK | os.X_OK):
        raise InputError(f"--save {path!r}: the folder is not writable")
    return save


class UniqueNames:
    """Output file names that never overwrite each other: a second ``a/img.jpg`` beside
    ``b/img.jpg`` becomes ``img-2.jpg``."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def __call__(self, name: str) -> str:
        stem, suffix = os.path.splitext(name)
        candidate, n = name, 1
        while candidate.lower() in self.used:
            n += 1
            candidate = f"{stem}-{n}{suffix}"
        self.used.add(candidate.lower())
        return candidate


def run_ray(args: argparse.Namespace) -> int:
    from .ray import run_detect

    if not args.out:
        raise InputError("--ray needs --out OUT.parquet (or a folder)")
    if args.save or args.json:
        raise InputError("--ray writes parquet (--out); --save and --json are for local runs")
    options = {"conf": args.conf, "iou": args.iou, "max_det": args.max_det, "classes": parse_classes(args.classes),
               "agnostic": args.agnostic, "backend": args.backend}
    if args.device:
        options["device"] = args.device
    counts = run_detect(args.sources, args.out, model=args.model, address=args.address, actors=args.actors,
                        cpus_per_actor=args.cpus_per_actor, gpus_per_actor=args.gpus_per_actor,
                        batch_size=args.batch_size, **options)
    print(f"{counts['images']} images, {counts['errors']} errors: {args.out}", file=sys.stderr)
    return 1 if counts["errors"] else 0


def run(args: argparse.Namespace) -> int:
    if args.ray:
        return run_ray(args)
    from tqdm import tqdm

    from .errors import Error
    from .frames import read_image

    files = image_files(args.sources)
    save = save_folder(args.save) if args.save else None
    det = detector_from_args(args)
    unique = UniqueNames()
    records = []
    failed = 0
    bar = tqdm(files, unit="img", disable=len(files) < 2 or None, file=sys.stderr)
    for f in bar:
        try:
            frame = read_image(f)
            dets = det.detect(frame)
            if save:
                dets.save(save / unique(f.name), frame.pixels, rgb=frame.rgb)
        except (Error, OSError) as e:  # one bad image: say which and why, go on with the rest
            failed += 1
            message = getattr(e, "strerror", None) or str(e)
            tqdm.write(f"fastdet: error: {f}: {message}", file=sys.stderr)
            if args.json:
                records.append({"image": str(f), "error": message})
            continue
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
    if failed:
        print(f"fastdet: {failed} of {len(files)} images failed", file=sys.stderr)
        return 1
    return 0
