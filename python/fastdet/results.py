"""Detection results: numpy views, cheap to create, easy to turn into plain data.

The vocabulary is the one users already know: ultralytics' ``Results.boxes`` (``xyxy``, ``xywh``,
``xyxyn``, ``xywhn``, indexing returns a new result) and supervision's ``sv.Detections``
(boolean-mask filtering, ``to_supervision()`` hands over the same arrays).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Sequence, Union, overload

import numpy as np

from .errors import InputTypeError

if TYPE_CHECKING:
    import supervision

    from .frames import FrameLike

#: What selects a subset: a slice, a boolean mask bool[N], or indices int[K].
Selection = Union[slice, np.ndarray, Sequence[int], Sequence[bool]]


@dataclass(frozen=True)
class Box:
    """One detection: xyxy in original-image pixels."""

    x1: float
    y1: float
    x2: float
    y2: float
    score: float
    class_id: int
    name: str


class Detections:
    """Detections of one image.

    xyxy: float32[N, 4] boxes in original-image pixels, clipped to the image.
    scores: float32[N], descending.
    class_ids: int32[N].
    names: class id -> name.
    image_shape: (height, width) of the original frame.
    candidates / dropped: boxes above the threshold, and how many of them the candidate cap
    kept out of NMS (0 unless the cap was hit).
    invalid: rows above the threshold the model cannot have meant (NaN/inf or inverted box, class
    id out of range): dropped, never returned (0 for a healthy model).
    """

    __slots__ = ("xyxy", "scores", "class_ids", "names", "image_shape", "candidates", "dropped", "invalid")

    def __init__(
        self,
        xyxy: np.ndarray,
        scores: np.ndarray,
        class_ids: np.ndarray,
        names: Mapping[int, str],
        image_shape: tuple[int, int],
        candidates: int = 0,
        dropped: int = 0,
        invalid: int = 0,
    ) -> None:
        self.xyxy = xyxy
        self.scores = scores
        self.class_ids = class_ids
        self.names = names
        self.image_shape = image_shape
        self.candidates = candidates
        self.dropped = dropped
        self.invalid = invalid

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    def name(self, class_id: int) -> str:
        return self.names.get(int(class_id), str(int(class_id)))

    def __iter__(self) -> Iterator[Box]:
        for (x1, y1, x2, y2), s, c in zip(self.xyxy.tolist(), self.scores.tolist(), self.class_ids.tolist()):
            yield Box(x1, y1, x2, y2, s, c, self.name(c))

    @overload
    def __getitem__(self, index: int | np.integer) -> Box: ...

    @overload
    def __getitem__(self, index: Selection) -> Detections: ...

    def __getitem__(self, index: int | np.integer | Selection) -> Box | Detections:
        """``dets[i]`` is one Box; ``dets[1:3]``, ``dets[dets.class_ids == 0]`` (a boolean mask
        bool[N]) and ``dets[[0, 2]]`` (indices) are new Detections of the same image."""
        if isinstance(index, (int, np.integer)) and not isinstance(index, (bool, np.bool_)):
            x1, y1, x2, y2 = self.xyxy[index].tolist()
            c = int(self.class_ids[index])
            return Box(x1, y1, x2, y2, float(self.scores[index]), c, self.name(c))
        return self._select(_selection(index, len(self)))

    def _select(self, keep: slice | np.ndarray) -> Detections:
        # candidates / dropped / invalid describe the decode of the whole image, so a subset keeps them.
        return Detections(self.xyxy[keep], self.scores[keep], self.class_ids[keep], self.names, self.image_shape,
                          self.candidates, self.dropped, self.invalid)

    @property
    def xywh(self) -> np.ndarray:
        """float32[N, 4]: centre x, centre y, width, height in pixels (ultralytics' ``xywh``)."""
        out = np.empty_like(self.xyxy)
        out[:, :2] = (self.xyxy[:, :2] + self.xyxy[:, 2:]) / 2
        out[:, 2:] = self.xyxy[:, 2:] - self.xyxy[:, :2]
        return out

    @property
    def xyxyn(self) -> np.ndarray:
        """float32[N, 4]: xyxy divided by the image's width and height, in [0, 1]."""
        return self.xyxy / self._wh_wh()

    @property
    def xywhn(self) -> np.ndarray:
        """float32[N, 4]: xywh divided by the image's width and height (YOLO label format)."""
        return self.xywh / self._wh_wh()

    @property
    def areas(self) -> np.ndarray:
        """float32[N]: box areas in square pixels."""
        return (self.xyxy[:, 2] - self.xyxy[:, 0]) * (self.xyxy[:, 3] - self.xyxy[:, 1])

    def _wh_wh(self) -> np.ndarray:
        h, w = self.image_shape
        return np.array([w, h, w, h], np.float32)

    def to_list(self) -> list[dict[str, Any]]:
        """Plain dicts: box [x1, y1, x2, y2], score, class_id, name (JSON-serialisable)."""
        return [
            {"box": [b.x1, b.y1, b.x2, b.y2], "score": b.score, "class_id": b.class_id, "name": b.name}
            for b in self
        ]

    def to_json(self, **dumps_options: Any) -> str:
        """``{"height": H, "width": W, "detections": to_list()}`` as JSON text (options go to
        ``json.dumps``, e.g. ``indent=1``)."""
        h, w = self.image_shape
        return json.dumps({"height": h, "width": w, "detections": self.to_list()}, **dumps_options)

    def to_supervision(self) -> supervision.Detections:
        """The same boxes as ``supervision.Detections`` (xyxy, confidence, class_id share this
        object's arrays; class names in ``data["class_name"]``). Needs ``pip install supervision``."""
        from .supervision_bridge import to_supervision

        return to_supervision(self)

    def plot(self, frame: FrameLike, *, rgb: bool = False) -> np.ndarray:
        """An annotated copy of ``frame`` (uint8[H, W, 3|4] BGR, RGB when ``rgb``, or an image path;
        the image these detections came from): uint8[H, W, 3] in the frame's channel order.

        Drawn with supervision's annotators when supervision is installed, else with OpenCV;
        labels stay inside the image."""
        from .draw import plot

        return plot(frame, self, rgb=rgb)

    def save(self, path: str | os.PathLike[str], frame: FrameLike, *, rgb: bool = False) -> Path:
        """Writes ``plot(frame)`` to ``path`` (format from its suffix; folders are created) and
        returns the path."""
        from .draw import save

        return save(path, frame, self, rgb=rgb)

    def __repr__(self) -> str:
        h, w = self.image_shape
        head = f"Detections({len(self)} boxes in {w}x{h}"
        if self.dropped:
            head += f", {self.dropped} candidates over the cap dropped"
        if self.invalid:
            head += f", {self.invalid} malformed rows dropped"
        if not len(self):
            return head + ")"
        rows = [
            f"  {b.name:>14s} {b.score:.3f} [{b.x1:7.1f} {b.y1:7.1f} {b.x2:7.1f} {b.y2:7.1f}]"
            for b in list(self)[:10]
        ]
        more = [f"  ... {len(self) - 10} more"] if len(self) > 10 else []
        return "\n".join([head + ":"] + rows + more + [")"])


def _selection(index: Any, n: int) -> slice | np.ndarray:
    """Checks a subset selector against N detections: a slice, a boolean mask bool[N], or
    integer indices int[K]; anything else is a TypeError."""
    if isinstance(index, slice):
        return index
    if isinstance(index, (bool, np.bool_, str, bytes, float)) or index is None:
        raise InputTypeError(f"index: expected an int, a slice, a boolean mask or integer indices, got {index!r}")
    keep = np.asarray(index)
    if keep.dtype == np.bool_:
        if keep.shape != (n,):
            raise IndexError(f"index: a boolean mask must have shape ({n},), one per detection, got {keep.shape}")
        return keep
    if keep.size == 0 and keep.ndim == 1:
        return keep.astype(np.intp)  # [] selects nothing (np.asarray([]) is float64)
    if not np.issubdtype(keep.dtype, np.integer) or keep.ndim != 1:
        raise InputTypeError(f"index: expected an int, a slice, a boolean mask bool[{n}] or integer indices int[K], "
                        f"got an array of {keep.dtype} with shape {keep.shape}")
    return keep
