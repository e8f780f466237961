"""`fastdet build MODEL`: builds TensorRT engines ahead of time and says where they are cached."""

from __future__ import annotations

import argparse
import sys

HELP = "build TensorRT engines ahead of time and print where they are cached"


def parse_batch(text: str) -> tuple[int, int, int]:
    """ "8" -> (8, 8, 8); "1:8:32" -> (1, 8, 32) (min:opt:max, 1 <= min <= opt <= max)."""
    parts = text.split(":")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        values = []
    if len(values) == 1:
        values *= 3
    if len(values) != 3 or not 1 <= values[0] <= values[1] <= values[2]:
        raise argparse.ArgumentTypeError(
            f"expected N or MIN:OPT:MAX with 1 <= MIN <= OPT <= MAX (e.g. 1:8:32), got {text!r}")
    return values[0], values[1], values[2]


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number of MiB, got {text!r}")
    return value


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="ONNX detector")
    precision = p.add_mutually_exclusive_group()
    precision.add_argument("--fp16", dest="precision", action="store_const", const="fp16",
                           help="allow fp16 kernels (the default where TensorRT supports it)")
    precision.add_argument("--fp32", dest="precision", action="store_const", const="fp32",
                           help="build the network in the precision the ONNX declares")
    p.add_argument("--batch", type=parse_batch, default=None, metavar="MIN:OPT:MAX",
                   help="batch range of the optimisation profile, e.g. 1:8:32 (default: 1, or the "
                        "model's static batch)")
    p.add_argument("--workspace", type=positive_int, default=None, metavar="MB",
                   help="builder workspace limit in MiB (default: TensorRT's)")
    p.add_argument("--cache", default=None, metavar="DIR",
                   help="engine cache folder (default: $FASTDET_CACHE, else the user cache folder)")
    p.add_argument("--device", default=None, help="cuda or cuda:N (default: cuda:0)")


def run(args: argparse.Namespace) -> int:
    from .backends import tensorrt
    from .errors import BackendUnavailable
    from .model import check_model_path

    path = check_model_path(args.model)
    reason = tensorrt.unavailable_reason()
    if reason:
        raise BackendUnavailable(f"cannot build TensorRT engines here: {reason}")
    info = tensorrt.describe_model(path)
    key, entry = tensorrt.load_or_build(info, precision=args.precision, batch=args.batch,
                                        workspace_mb=args.workspace, cache_dir=args.cache, device=args.device)
    lo, opt, hi = (shape[0] for shape in key.profile[0][1])
    state = "built" if entry.built else "already cached"
    print(f"{entry.path}  ({state}; {key.precision}, batch {lo}:{opt}:{hi}, {key.gpu}, TensorRT {key.runtime_version})",
          file=sys.stdout)
    return 0
