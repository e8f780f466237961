"""The embedded default model: YOLOX-Nano (COCO-80, Megvii, Apache-2.0), used when no model is named.

It lets ``fastdet.detect(frame)``, ``Detector()`` and ``fastdet detect IMAGE`` work on a fresh
machine with nothing downloaded. A model path given explicitly, or in ``FASTDET_MODEL``, wins.
Its licence notice is ``models/NOTICE`` beside this file.
"""

from __future__ import annotations

from pathlib import Path

from .errors import ModelError

#: The shipped model file (3.7 MB): a 416x416 YOLOX head, decoded with the YOLOX recipe
#: (BGR, 0-255, top-left pad), with the COCO class names in its ONNX metadata.
PATH = Path(__file__).resolve().parent / "models" / "yolox_nano.onnx"

#: One line for `fastdet info` / `fastdet models`.
DESCRIPTION = "YOLOX-Nano, COCO-80, 416x416 (Megvii, Apache-2.0; see models/NOTICE), embedded in fastdet"


def path() -> Path:
    """The embedded model's path; a clear error when an installation lost it."""
    if not PATH.is_file():
        raise ModelError(
            f"the embedded default model is missing from this installation ({str(PATH)!r}): "
            "reinstall fastdet, or pass model='path/to/model.onnx' or set FASTDET_MODEL"
        )
    return PATH
