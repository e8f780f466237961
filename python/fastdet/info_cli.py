"""`fastdet info`: what fastdet reads from a model, and which backends can run here."""

from __future__ import annotations

import argparse
import json
import sys

HELP = "describe a model and the backends available here"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", nargs="?", help="ONNX detector, OpenVINO IR (.xml) or OpenVINO export folder "
                                            "(default: $FASTDET_MODEL, else the embedded one)")
    p.add_argument("--json", action="store_true", help="print as JSON")


def run(args: argparse.Namespace) -> int:
    from . import _core, backends, default_model
    from .backends import openvino_info
    from .model import check_model_path

    path = check_model_path(args.model)
    embedded = path == default_model.PATH
    info = backends.describe(path)
    b, _, h, w = info.input_shape
    head = info.head
    lines = [
        f"model:     {path}" + (f"\n           {default_model.DESCRIPTION}" if embedded else ""),
        f"format:    {info.format} ({_core.HeadFormat(head.format).name}), output {info.output_name} "
        f"({', '.join('B' if d is None and i == 0 else '?' if d is None else str(d) for i, d in enumerate(info.output_shape))})",
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
    lines.append(f"openvino:  {openvino_info.summary()}")
    cuda = "yes" if _core.cuda_available() else ("no GPU found" if _core.built_with_cuda else "not built with CUDA")
    lines.append(f"cuda:      {cuda}")
    if args.json:
        json.dump({"model": str(path), "embedded": embedded, "format": info.format,
                   "input_shape": list(info.input_shape), "output_shape": list(info.output_shape),
                   "names": info.names, "metadata": info.metadata, "backends": backends.availability(),
                   "openvino": openvino_info.runtime()},
                  sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        print("\n".join(lines))
    return 0
