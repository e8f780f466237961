"""Detection results: numpy views, cheap to create, easy to turn into plain data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Mapping

import numpy as np


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

    def __getitem__(self, i: int) -> Box:
        x1, y1, x2, y2 = self.xyxy[i].tolist()
        c = int(self.class_ids[i])
        return Box(x1, y1, x2, y2, float(self.scores[i]), c, self.name(c))

    def to_list(self) -> list[dict[str, Any]]:
        """Plain dicts: box [x1, y1, x2, y2], score, class_id, name (JSON-serialisable)."""
        return [
            {"box": [b.x1, b.y1, b.x2, b.y2], "score": b.score, "class_id": b.class_id, "name": b.name}
            for b in self
        ]

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
