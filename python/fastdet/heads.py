"""Head-format detection: which layout a model's raw output has, from its shape and metadata.

The layouts themselves are defined once, in the native ``HeadSpec`` (see ``HeadFormat``):

- ``yolov8``  ``[B, 4+nc, N]`` cx cy w h + class scores (YOLOv8/11/12), no objectness
- ``yolov5``  ``[B, N, 5+nc]`` cx cy w h, objectness, class scores (YOLOv5/v7)
- ``yolox``   ``[B, N, 5+nc]`` raw grid offsets, decoded with strides 8/16/32 (YOLOX)
- ``end2end`` ``[B, K, 6]`` x1 y1 x2 y2 score class, NMS already applied (YOLOv10, YOLO26)
"""

from __future__ import annotations

from typing import Sequence

from . import _core
from .errors import InputError, ModelError

# Names from the native enum itself ("yolov8", "yolov5", "yolox", "end2end"): one table, shared with its repr.
FORMATS = {name.lower(): value for name, value in _core.HeadFormat.__members__.items()}

YOLOX_STRIDES = (8, 16, 32)


class UnsupportedModelError(ModelError):
    """The model's outputs match no head format fastdet can decode."""


def _grid_cells(input_h: int, input_w: int, strides: Sequence[int]) -> int:
    """Cells of a detection grid over an input_h x input_w input: a stride-s level is the output of
    padded convolutions (kernel 3, padding 1, as in ultralytics' and YOLOX's backbones), which is
    ceil(size / s) per side, not size // s, when the size is not a multiple of s."""
    return sum(-(-input_h // s) * -(-input_w // s) for s in strides)


def detect_head(
    output_shape: Sequence[int | str | None],
    input_hw: tuple[int, int],
    num_classes: int | None = None,
    forced: str | None = None,
) -> _core.HeadSpec:
    """HeadSpec for a model output of ``output_shape`` (batch first; symbolic dims allowed for
    the batch only). ``num_classes`` comes from metadata when known; ``forced`` names a format
    to use instead of guessing."""
    if len(output_shape) != 3:
        raise UnsupportedModelError(
            f"output: expected a 3-D detection head [B, C, N] or [B, N, C], got shape {tuple(output_shape)}"
        )
    a, b = output_shape[1], output_shape[2]
    h, w = input_hw
    if isinstance(a, int) and not isinstance(b, int) and forced in (None, "yolov8"):
        # A dynamic-size ultralytics export: [B, 4+nc, anchors], one anchor per grid cell.
        b = _grid_cells(h, w, YOLOX_STRIDES)
    if not isinstance(a, int) or not isinstance(b, int):
        raise UnsupportedModelError(
            f"output: expected static head dimensions after the batch axis, got shape {tuple(output_shape)};"
            " export with a fixed image size"
        )
    if forced is not None and forced not in FORMATS:
        raise InputError(f"head: expected one of {sorted(FORMATS)}, got {forced!r}")

    def spec(fmt: str, nc: int, n: int) -> _core.HeadSpec:
        if nc < 1 and fmt != "end2end":
            raise UnsupportedModelError(f"output shape {tuple(output_shape)} leaves no class scores for {fmt}")
        if num_classes is not None and fmt != "end2end" and nc != num_classes:
            alone = _guess_format(a, b, h, w, None)
            alone_nc = {"yolov8": a - 4, "yolov5": b - 5, "yolox": b - 5}.get(alone)
            hint = (f"; by its shape alone it is {alone} with {alone_nc} classes"
                    if alone_nc is not None and alone_nc > 0 and (alone, alone_nc) != (fmt, nc) else "")
            raise UnsupportedModelError(
                f"output shape {tuple(output_shape)} gives {nc} classes as {fmt}, but the class names (the "
                f"model's metadata, or names=) list {num_classes}{hint}: are the names this model's, and is it "
                "a detection model?"
            )
        try:
            return _core.HeadSpec(FORMATS[fmt], nc, n, h, w, list(YOLOX_STRIDES))
        except InputError as e:  # e.g. a YOLOX head whose anchors do not fit its input's grid
            step = max(YOLOX_STRIDES)
            off_grid = min(h, w) >= step and (h % step or w % step)
            if fmt == "yolox" and off_grid and n == _grid_cells(h, w, YOLOX_STRIDES):
                # The native YOLOX decoder lays out its grid as size // stride, which is the
                # model's only when the input is a multiple of the largest stride.
                raise UnsupportedModelError(
                    f"output shape {tuple(output_shape)} is a YOLOX head on a {h}x{w} input; fastdet decodes "
                    f"YOLOX only at input sizes that are multiples of {step}: export at "
                    f"{-(-h // step) * step}x{-(-w // step) * step}"
                ) from None
            raise UnsupportedModelError(f"output shape {tuple(output_shape)} as {fmt}: {e}") from None

    if forced is None:
        forced = _guess_format(a, b, h, w, num_classes)
    if forced == "end2end":
        if b != 6:
            raise UnsupportedModelError(f"end2end: expected output [B, K, 6], got {tuple(output_shape)}")
        # Without metadata the class count of an end-to-end head is unknown; 1000 bounds the
        # class ids a class filter may name.
        return spec("end2end", num_classes or 1000, a)
    if forced == "yolov8":
        return spec("yolov8", a - 4, b)
    if forced in ("yolov5", "yolox"):
        return spec(forced, b - 5, a)
    raise UnsupportedModelError(f"output shape {tuple(output_shape)} matches no known head format")


def _guess_format(a: int, b: int, h: int, w: int, num_classes: int | None) -> str:
    """Format of an output [B, a, b]: by the class count from metadata when known, else by
    shape (anchors outnumber channels).

    A last axis of 6 is both the end-to-end layout and a single-class YOLOv5/YOLOX head (5+1);
    the anchor count tells them apart: YOLOX has one anchor per grid cell of its input (strides
    8/16/32), YOLOv5/v7 three, and an end-to-end head a fixed number of rows (e.g. 300)."""
    cells = _grid_cells(h, w, YOLOX_STRIDES) if min(h, w) >= max(YOLOX_STRIDES) else None
    grid_shaped = cells is not None and a in (cells, 3 * cells)
    if num_classes is not None:
        if a == 4 + num_classes:
            return "yolov8"
        if b == 6 and (b != 5 + num_classes or not grid_shaped):
            return "end2end"
    elif b == 6 and a <= 1000 and not grid_shaped:
        return "end2end"
    elif a < b:
        return "yolov8"
    # YOLOX is anchor-free with one prediction per grid cell; YOLOv5/v7 have three.
    return "yolox" if a == cells else "yolov5"


def format_name(head: _core.HeadSpec) -> str:
    """The short name of a head's format (``yolov8``, ``yolov5``, ``yolox``, ``end2end``)."""
    for name, fmt in FORMATS.items():
        if head.format == fmt:
            return name
    raise ValueError(f"unknown head format {head.format!r}")
