"""YOLO-format datasets: a folder of images (or a split file listing them) with one label file per
image, ``labels/<stem>.txt`` beside ``images/`` (ultralytics' layout), rows ``class cx cy w h``
normalised to [0, 1]."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Collection

import numpy as np

from ..errors import InputError
from ..io.images import IMAGE_SUFFIXES
from ..cli_arguments import data_path
from .data_issues import DataIssues
from .ground_truth import GroundTruth, ImageTruth
from .hashing import image_sha256, later_copy



def list_images(source: str | os.PathLike[str]) -> list[Path]:
    """Images of ``source``, sorted: a folder (searched recursively), or a split file (.txt) with
    one image path per line, relative to the split file's folder unless absolute. An empty path is
    an ``InputError`` (not the current folder)."""
    src = data_path(source)
    if src.is_dir():
        found = sorted(p for p in src.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not found:
            raise InputError(f"data: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in folder {str(src)!r}")
        return found
    if src.is_file() and src.suffix.lower() == ".txt":
        out = []
        for n, line in enumerate(src.read_text().splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            p = Path(line).expanduser()
            p = p if p.is_absolute() else (src.parent / p)
            if not p.is_file():
                raise FileNotFoundError(f"data: {src.name} line {n}: no such image {str(p)!r}")
            out.append(p)
        if not out:
            raise InputError(f"data: split file {str(src)!r} lists no images")
        return out
    raise FileNotFoundError(f"data: expected a folder of images or a split file (.txt), got {str(src)!r}")


def label_path(image: Path) -> Path:
    """``.../images/a/b.jpg`` -> ``.../labels/a/b.txt`` (the last ``images`` folder becomes
    ``labels``); without an ``images`` folder, ``b.txt`` beside the image."""
    parts = list(image.parts)
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            return Path(*parts).with_suffix(".txt")
    return image.with_suffix(".txt")


def parse_label_file(path: Path, num_classes: int | Collection[int],
                     issues: DataIssues) -> tuple[np.ndarray, np.ndarray]:
    """Checked rows of one label file: (int64[K] class ids, float64[K, 4] normalised xyxy clipped
    to [0, 1]). Bad rows are skipped and counted in ``issues``: malformed lines, class ids outside
    [0, num_classes) (or, given a collection of ids, not one of them: a model's names may have
    gaps), boxes of no area; boxes reaching outside the image are clipped and counted."""
    known = None if isinstance(num_classes, int) else frozenset(int(c) for c in num_classes)
    classes, boxes = [], []
    for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        where = f"{path.name}:{n}"
        try:
            values = [float(v) for v in fields]
        except ValueError:
            values = []
        if len(values) != 5 or not all(math.isfinite(v) for v in values):
            issues.add("malformed_line", where)
            continue
        cls, cx, cy, w, h = values
        if cls != int(cls) or not (int(cls) in known if known is not None else 0 <= cls < num_classes):
            issues.add("class_out_of_range", f"{where} (class {fields[0]})")
            continue
        box = np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])
        clipped = box.clip(0.0, 1.0)
        if w <= 0 or h <= 0 or clipped[2] <= clipped[0] or clipped[3] <= clipped[1]:
            issues.add("empty_box", where)
            continue
        # Exporters round normalised coordinates: only a reach past a thousandth of the image counts.
        if np.abs(clipped - box).max() > 1e-3:
            issues.add("box_outside_image", where)
        classes.append(int(cls))
        boxes.append(clipped)
    return np.array(classes, np.int64), np.array(boxes, np.float64).reshape(-1, 4)


def read_dataset(source: str | os.PathLike[str], names: dict[int, str],
                 issues: DataIssues | None = None) -> GroundTruth:
    """A YOLO-format dataset (folder or split file) checked against a model's classes ``names``.

    Images with the same bytes as an earlier one are skipped (scoring one twice would weigh it
    twice) and counted; so is every other problem (``DataIssues``). An empty dataset is an
    ``InputError``. Category ids are class id + 1 (COCO's ids start at 1)."""
    issues = issues if issues is not None else DataIssues()
    class_ids = frozenset(names)  # only the names' own ids: {0: person, 2: car} has no class 1
    seen: dict[str, Path] = {}
    images: list[ImageTruth] = []
    for path in list_images(source):
        sha = image_sha256(path, issues)
        if sha is None or later_copy(sha, path, seen, issues):
            continue
        labels = label_path(path)
        if not labels.is_file():
            issues.add("missing_labels", path.name)
            images.append(ImageTruth.empty(path, sha))
            continue
        classes, boxes = parse_label_file(labels, class_ids, issues)
        images.append(ImageTruth(path, sha, classes, boxes, np.zeros(len(classes), bool)))
    if not images:
        raise InputError(f"data: {str(source)!r} holds no readable images")
    return GroundTruth(images, dict(names), {c: c + 1 for c in names}, "yolo", issues)
