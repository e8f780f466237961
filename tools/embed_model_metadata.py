"""Writes class names, task and input size into the embedded YOLOX-Nano's ONNX metadata.

Megvii's YOLOX-Nano export carries no metadata, so without this a detection would print class
"0" instead of "person". This script is how the copy shipped in ``python/fastdet/models/`` was
made, and it can remake it byte for byte from the upstream file:

    python tools/embed_model_metadata.py yolox_nano.onnx python/fastdet/models/yolox_nano.onnx

The keys follow ultralytics' ONNX metadata (``names`` as a dict literal, ``imgsz`` as a list,
``task``), which is what fastdet reads. The graph and the weights are left untouched; running the
script on its own output gives the same bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import onnx

COCO80 = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard",
    "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush",
)

#: The one output layout this script accepts: YOLOX's raw head, 85 = 4 box + objectness + 80 classes.
EXPECTED_CHANNELS = 5 + len(COCO80)


def _static_dims(value_info: onnx.ValueInfoProto) -> list[int]:
    return [d.dim_value for d in value_info.type.tensor_type.shape.dim]


def metadata_for(model: onnx.ModelProto) -> dict[str, str]:
    """The metadata to write, with imgsz read from the model's own input shape."""
    (inp,) = model.graph.input
    (out,) = model.graph.output
    n, c, h, w = _static_dims(inp)
    if c != 3 or h <= 0 or w <= 0:
        raise ValueError(f"input {inp.name!r}: expected a static [1, 3, H, W] image input, got {_static_dims(inp)}")
    if _static_dims(out)[-1] != EXPECTED_CHANNELS:
        raise ValueError(f"output {out.name!r}: expected [1, N, {EXPECTED_CHANNELS}] (YOLOX, COCO-80), "
                         f"got {_static_dims(out)}")
    return {
        "description": "YOLOX-Nano (Megvii), trained on COCO; class names, task and input size added by "
                       "fastdet's tools/embed_model_metadata.py, graph and weights unchanged",
        "author": "Megvii Inc.",
        "license": "Apache-2.0",
        "task": "detect",
        "batch": str(n or 1),
        "imgsz": f"[{h}, {w}]",
        "stride": "32",
        "names": repr(dict(enumerate(COCO80))),
    }


def embed(source: Path, dest: Path) -> bytes:
    """Writes ``source`` with fastdet's metadata to ``dest``; returns the bytes written."""
    model = onnx.load(str(source))
    wanted = metadata_for(model)
    kept = [(p.key, p.value) for p in model.metadata_props if p.key not in wanted]
    del model.metadata_props[:]
    for key, value in kept + list(wanted.items()):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    # Deterministic serialisation, so the shipped file can be remade byte for byte.
    data = model.SerializeToString(deterministic=True)
    dest.write_bytes(data)
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="YOLOX-Nano ONNX export (raw head, 416x416)")
    parser.add_argument("dest", type=Path, help="where to write the copy with metadata")
    args = parser.parse_args(argv)
    print(f"source sha256 {hashlib.sha256(args.source.read_bytes()).hexdigest()}")
    data = embed(args.source, args.dest)
    print(f"wrote {args.dest} ({len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
