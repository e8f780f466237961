"""Adversarial calls of fastdet's public entry points, drawn from any source of choices: a seeded
numpy generator (the test suite) or atheris' FuzzedDataProvider (coverage-guided fuzzing).

Each ``call_*`` builds one call from the source, makes it, and checks the outcome: either a
fastdet error (``fastdet.Error``; pybind11's own TypeError for arguments of the wrong Python type)
or a result that satisfies the entry point's contract. Anything else — another exception type,
a NaN box, a class id out of range, scores out of order, more rows than max_det — raises
``Garbage``. A crash kills the process, which both harnesses report.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

import fastdet
from fastdet import _core


class Garbage(AssertionError):
    """A call returned something its contract forbids, or failed with an unexpected exception."""


class Source:
    """Choices from a seeded numpy generator."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def int_in(self, lo: int, hi: int) -> int:
        return int(self.rng.integers(lo, hi + 1))

    def pick(self, seq: Sequence[Any]) -> Any:
        return seq[self.int_in(0, len(seq) - 1)]

    def floats(self, n: int) -> np.ndarray:
        v = self.rng.normal(0, 300, n).astype(np.float32)
        special = self.rng.random(n) < 0.05
        v[special] = self.rng.choice(np.array([np.nan, np.inf, -np.inf, 0, 1e38, -1e38, 1e-40], np.float32),
                                     special.sum())
        return v

    def raw(self, n: int) -> bytes:
        return self.rng.integers(0, 256, n, dtype=np.uint8).tobytes()

    def mostly(self, good: Sequence[Any], bad: Sequence[Any]) -> Any:
        """A good value 7 times in 8, else a bad one: most calls get past validation into the
        code that computes, and every bad value is still tried."""
        return self.pick(bad) if bad and self.int_in(0, 7) == 7 else self.pick(good)  # 0 when input runs out: good


class AtherisSource(Source):
    """Choices from atheris' FuzzedDataProvider (deterministic for a given input)."""

    def __init__(self, fdp: Any) -> None:
        self.fdp = fdp

    def int_in(self, lo: int, hi: int) -> int:
        return int(self.fdp.ConsumeIntInRange(lo, hi))

    def floats(self, n: int) -> np.ndarray:
        b = self.fdp.ConsumeBytes(4 * n)
        v = np.frombuffer(b + bytes(4 * n - len(b)), np.float32).copy()
        return v

    def raw(self, n: int) -> bytes:
        b = self.fdp.ConsumeBytes(n)
        return b + bytes(n - len(b))


EXPECTED = (fastdet.Error, TypeError)  # TypeError: pybind11 rejecting an argument's Python type


def _expected(e: BaseException) -> bool:
    return isinstance(e, EXPECTED)


def _array(src: Source, shape: tuple[int, ...]) -> np.ndarray:
    """An array of a chosen dtype (usually the right one), sometimes non-contiguous."""
    dtype = src.mostly([np.float32], [np.float64, np.float16, np.int32, np.uint8, np.int64])
    shape = tuple(max(d, 0) for d in shape)
    n = int(np.prod(shape)) if shape else 1
    a = src.floats(n).reshape(shape)
    with np.errstate(all="ignore"):
        a = a.astype(dtype)
    if a.ndim >= 2 and src.int_in(0, 15) == 0:
        a = np.swapaxes(a, -1, -2)
    return a


def check_detections(xyxy: np.ndarray, scores: np.ndarray, ids: np.ndarray, nc: int, max_det: int,
                     size: tuple[int, int] | None) -> None:
    if not (xyxy.dtype == np.float32 and scores.dtype == np.float32 and ids.dtype == np.int32):
        raise Garbage(f"dtypes {xyxy.dtype} {scores.dtype} {ids.dtype}")
    n = len(scores)
    if xyxy.shape != (n, 4) or ids.shape != (n,) or n > max_det:
        raise Garbage(f"shapes {xyxy.shape} {scores.shape} {ids.shape} max_det {max_det}")
    if not (np.isfinite(xyxy).all() and np.isfinite(scores).all()):
        raise Garbage("non-finite box or score returned")
    if n and ((xyxy[:, 2] < xyxy[:, 0]).any() or (xyxy[:, 3] < xyxy[:, 1]).any()):
        raise Garbage("inverted box returned")
    if n and (ids.min() < 0 or (nc > 0 and ids.max() >= nc)):
        raise Garbage(f"class id outside [0, {nc}) returned")
    if n > 1 and (np.diff(scores) > 0).any():
        raise Garbage("scores not in descending order")
    if size is not None and n:
        h, w = size
        if xyxy[:, [0, 2]].min() < 0 or xyxy[:, [0, 2]].max() > w or xyxy[:, [1, 3]].min() < 0 or xyxy[:, [1, 3]].max() > h:
            raise Garbage("box outside the image")


def call_decode(src: Source) -> None:
    fmt = src.pick(["yolov8", "yolov5", "yolox", "end2end"])
    nc = src.int_in(0, 6) if fmt == "end2end" else src.mostly([1, 2, 3, 6], [0, -1])
    size = src.pick([32, 64, 96])
    n = {"yolox": sum((size // s) ** 2 for s in (8, 16, 32))}.get(fmt, src.int_in(0, 60))
    if src.int_in(0, 15) == 0:
        n = src.int_in(0, 60)  # an anchor count that need not fit the grid
    fmt_enum = {"yolov8": _core.HeadFormat.YOLOV8, "yolov5": _core.HeadFormat.YOLOV5,
                "yolox": _core.HeadFormat.YOLOX, "end2end": _core.HeadFormat.END2END}[fmt]
    try:
        head = _core.HeadSpec(fmt_enum, nc, n, size, size, [8, 16, 32])
    except BaseException as e:
        if _expected(e):
            return
        raise Garbage(f"HeadSpec: {type(e).__name__}: {e}") from e
    shape = {"yolov8": (4 + nc, n), "end2end": (n, 6)}.get(fmt, (n, 5 + nc))
    batch = src.mostly([1, 2, 3], [0])
    if src.int_in(0, 15) == 0:
        shape = (shape[0] + src.int_in(-1, 1), shape[1])
    out = _array(src, (batch, *shape))
    geoms = [_core.make_geometry(src.int_in(1, 300), src.int_in(1, 300), size, size, _core.Placement.CENTER, True)
             for _ in range(batch + src.mostly([0], [1, -1]) if batch else 0)]
    max_det = src.mostly([1, 5, 300, 100000], [0, -3, 2**31 - 1])
    try:
        opts = _core.DecodeOptions(src.mostly([0.0, 0.1, 0.25, 0.9], [1.5, float("nan"), -1.0]),
                                   src.mostly([0.0, 0.45, 0.7, 1.0], [-0.1, float("nan")]), max_det,
                                   src.mostly([1, 3, 30000], [0, -5]), src.pick([True, False]))
        classes = src.mostly([None, None, [0], [0, 1]], [[nc + 3], [-1]])
        res = _core.decode(out, head, geoms, opts, classes)
    except BaseException as e:
        if _expected(e):
            return
        raise Garbage(f"decode: {type(e).__name__}: {e}") from e
    for (xyxy, scores, ids, st), g in zip(res, geoms):
        check_detections(xyxy, scores, ids, nc, max_det, (g.src_h, g.src_w))
        if st.kept != len(scores) or st.invalid < 0 or st.dropped < 0:
            raise Garbage(f"stats {st}")


def call_letterbox(src: Source) -> None:
    h, w = src.mostly([src.int_in(1, 70)], [0]), src.mostly([src.int_in(1, 70)], [0])
    c = src.mostly([3, 4], [1, 2, 5])
    dtype = src.mostly([np.uint8], [np.float32, np.int16])
    frame = np.frombuffer(src.raw(max(h * w * c, 0)), np.uint8).reshape(h, w, c).astype(dtype)
    if src.int_in(0, 15) == 0:
        frame = frame[:, ::-1]
    if src.int_in(0, 7) == 0:
        frame = frame[::2]  # a row pitch of two rows: valid
    oh, ow = src.mostly([1, 7, 32, 80], [0, -1]), src.mostly([1, 9, 32, 80], [0, -1])
    out_dtype = src.mostly([np.float32], [np.float64])
    try:
        out = np.empty((3, max(oh, 0), max(ow, 0)), out_dtype)
    except BaseException:
        return
    recipe = _core.Recipe()
    recipe.placement = src.pick([_core.Placement.CENTER, _core.Placement.TOP_LEFT, _core.Placement.STRETCH])
    recipe.scaleup = src.pick([True, False])
    rgb = src.pick([True, False])
    try:
        g = _core.letterbox_into(frame, out, recipe, rgb)
    except BaseException as e:
        if _expected(e):
            return
        raise Garbage(f"letterbox_into: {type(e).__name__}: {e}") from e
    if not np.isfinite(out).all() or out.min() < 0 or out.max() > 1.0 + 1e-6:
        raise Garbage("letterbox wrote values outside [0, 1]")
    if not (0 < g.new_w <= ow and 0 < g.new_h <= oh):
        raise Garbage(f"geometry {g}")


def call_nms(src: Source) -> None:
    n = src.int_in(0, 80)
    boxes = _array(src, (n, src.mostly([4], [3])))
    scores = _array(src, (n + src.mostly([0], [1]),))
    if src.int_in(0, 3):  # mostly no NaN scores (those are rejected): keep the rest of the call valid
        scores = np.nan_to_num(scores, nan=0.5)
    ids = src.mostly([None, "int8", "int32", "int64", "uint16"], ["float32"])
    with np.errstate(all="ignore"):
        cls = None if ids is None else np.nan_to_num(np.abs(src.floats(n)) % 7).astype(np.float32).astype(ids)
    iou = src.mostly([0.0, 0.5, 1.0], [-0.5, 2.0, float("nan")])
    max_det = src.mostly([-1, 1, 10], [0, -7])
    try:
        keep = fastdet.nms(boxes, scores, iou, cls, max_det)
    except BaseException as e:
        if _expected(e):
            return
        raise Garbage(f"nms: {type(e).__name__}: {e}") from e
    if keep.dtype != np.int64 or len(set(keep.tolist())) != len(keep) or (len(keep) and (keep.min() < 0 or keep.max() >= n)):
        raise Garbage(f"nms returned bad indices {keep}")
    if max_det > 0 and len(keep) > max_det:
        raise Garbage("nms kept more than max_det")
    if len(keep) > 1 and (np.diff(scores[keep]) > 0).any():
        raise Garbage("nms indices not in score order")


def call_detect(src: Source, det: Any) -> None:
    kind = src.mostly(["array", "array", "list"], ["bad"])
    h, w = src.mostly([src.int_in(1, 90)], [0]), src.mostly([src.int_in(1, 90)], [0])
    c = src.mostly([3, 4], [1])
    frame: Any = np.frombuffer(src.raw(h * w * c), np.uint8).reshape(h, w, c)
    if kind == "bad":
        frame = src.pick([None, 3, "no-such-file.jpg", frame.astype(np.float32), [[1, 2, 3]], frame[:, ::-1]])
    elif kind == "list":
        frame = [frame] * src.mostly([1, 2, 3], [0])
    try:
        res = det.detect(frame)
    except BaseException as e:
        if _expected(e):
            return
        raise Garbage(f"detect: {type(e).__name__}: {e}") from e
    for d in res if isinstance(res, list) else [res]:
        check_detections(d.xyxy, d.scores, d.class_ids, len(det.names), det.options.max_det, d.image_shape)


ENTRY_POINTS = {"decode": call_decode, "letterbox": call_letterbox, "nms": call_nms}
