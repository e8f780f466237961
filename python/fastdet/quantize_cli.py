"""`fastdet quantize MODEL --data DIR_OR_SPLIT [--samples 300] --out OUT`: int8 OpenVINO IR with
NNCF (see fastdet.quantize)."""

from __future__ import annotations

import argparse
import sys

HELP = "post-training int8 quantization (NNCF) to an OpenVINO IR"


def _samples(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number of images, got {text!r}")
    return value


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="ONNX detector, OpenVINO IR (.xml) or OpenVINO export folder")
    p.add_argument("--data", required=True, metavar="DIR_OR_SPLIT",
                   help="calibration images: a folder (searched recursively) or a split file (.txt)")
    p.add_argument("--samples", type=_samples, default=300, help="calibration images to use (default 300)")
    p.add_argument("--out", required=True, metavar="OUT", help="output folder (model.xml, model.bin, metadata.yaml)")
    p.add_argument("--preset", choices=("mixed", "performance"), default="mixed",
                   help="NNCF preset: mixed (asymmetric activations, default) or performance (symmetric)")
    p.add_argument("--whole-model", action="store_true",
                   help="quantize the head's box/score arithmetic too (faster by little, less accurate)")


def run(args: argparse.Namespace) -> int:
    from .model import check_model_path
    from .quantize import quantize

    path = check_model_path(args.model)
    xml = quantize(path, args.data, args.out, samples=args.samples, preset=args.preset,
                   keep_head_float=not args.whole_model)
    print(f"{xml.parent}/  (int8 OpenVINO IR; load it with fastdet.Detector({str(xml.parent)!r}))", file=sys.stdout)
    return 0
