"""Ground truth in one shape whatever file it came from (YOLO labels or COCO JSON), and its COCO
form for pycocotools.

Boxes are xyxy, already clipped to the image: normalised to [0, 1] for YOLO labels (the image size
is known only once the image is decoded), in pixels for COCO JSON (which states each image's size).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Sequence

import numpy as np

from .data_issues import DataIssues
from .hashing import digest


@dataclass
class ImageTruth:
    """One image and its labelled boxes.

    path: the image file. sha256: hash of its bytes.
    classes: int64[K] model class ids. boxes: float64[K, 4] xyxy (``units``: "normalised" or
    "pixels"). iscrowd: bool[K] (COCO crowd regions: neither hit nor miss).
    size: (height, width) stated by the annotation file, or None (YOLO labels).
    """

    path: Path
    sha256: str
    classes: np.ndarray
    boxes: np.ndarray
    iscrowd: np.ndarray
    units: Literal["normalised", "pixels"] = "normalised"
    size: tuple[int, int] | None = None

    @staticmethod
    def empty(path: Path, sha256: str, size: tuple[int, int] | None = None,
              units: Literal["normalised", "pixels"] = "normalised") -> ImageTruth:
        return ImageTruth(path, sha256, np.zeros(0, np.int64), np.zeros((0, 4)), np.zeros(0, bool), units, size)

    def pixel_boxes(self, shape: tuple[int, int]) -> np.ndarray:
        """float64[K, 4] xyxy in pixels of the decoded image of ``shape`` (height, width)."""
        h, w = shape
        if self.units == "normalised":
            return self.boxes * np.array([w, h, w, h], np.float64)
        if self.size is None or self.size == (h, w):
            return self.boxes.copy()
        sh, sw = self.size
        return self.boxes * np.array([w / sw, h / sh, w / sw, h / sh], np.float64)

    def label_key(self) -> str:
        """A text form of the labels, for the dataset hash."""
        return f"{self.sha256} {self.units} {self.classes.tolist()} {np.round(self.boxes, 6).tolist()} " \
               f"{self.iscrowd.astype(int).tolist()}"


@dataclass
class GroundTruth:
    """A labelled dataset: images in order, the model's class names, the COCO category id each
    class is written with, and the problems met while reading it."""

    images: list[ImageTruth]
    names: dict[int, str]
    category_ids: dict[int, int]
    source: str
    issues: DataIssues = field(default_factory=DataIssues)

    def copy(self) -> GroundTruth:
        """A copy whose image list can be shortened (``coco_eval.predict`` drops unreadable images)
        without touching this one; issues are copied too."""
        return GroundTruth(list(self.images), self.names, self.category_ids, self.source,
                           DataIssues(dict(self.issues.counts), {k: list(v) for k, v in self.issues.examples.items()}))

    def sha256(self) -> str:
        """Hash of the images' contents and their labels, in order: two runs with the same hash
        scored the same data."""
        return digest(img.label_key() for img in self.images)

    def boxes_per_class(self) -> dict[int, int]:
        out: dict[int, int] = {}
        for img in self.images:
            for c in img.classes[~img.iscrowd].tolist():
                out[c] = out.get(c, 0) + 1
        return dict(sorted(out.items()))

    def to_coco(self, shapes: Sequence[tuple[int, int]]) -> dict[str, Any]:
        """COCO-format ground truth (image ids 0..N-1 in order), given each decoded image's
        (height, width): bbox [x, y, w, h] in pixels, area = w * h, the category ids of
        ``category_ids``, every class of the model listed as a category (COCOeval scores only
        those with ground truth)."""
        images, anns = [], []
        for image_id, (img, (h, w)) in enumerate(zip(self.images, shapes)):
            images.append({"id": image_id, "file_name": img.path.name, "height": int(h), "width": int(w)})
            xyxy = img.pixel_boxes((h, w))
            for c, (x1, y1, x2, y2), crowd in zip(img.classes.tolist(), xyxy.tolist(), img.iscrowd.tolist()):
                if c not in self.category_ids:  # a class the model does not have (its ids may have gaps)
                    self.issues.add("class_out_of_range", f"{img.path.name} (class {c})")
                    continue
                bw, bh = x2 - x1, y2 - y1
                anns.append({"id": len(anns) + 1, "image_id": image_id, "category_id": self.category_ids[c],
                             "bbox": [x1, y1, bw, bh], "area": bw * bh, "iscrowd": int(crowd)})
        cats = [{"id": self.category_ids[k], "name": v} for k, v in sorted(self.names.items())]
        return {"images": images, "annotations": anns, "categories": cats}
