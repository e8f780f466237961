"""COCO JSON ground truth (what CVAT, Label Studio and most annotation tools export), read into
fastdet's ``GroundTruth``.

Categories are matched to the model's classes by name (annotation tools number categories their
own way; COCO's own ids run 1..90 with gaps). Annotations of a category the model does not have,
of an image whose file is missing, or with a malformed box are skipped and counted; boxes are
clipped to the image size the file states.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from .data_issues import DataIssues
from .ground_truth import GroundTruth, ImageTruth
from .hashing import image_sha256, later_copy


def default_images_folder(annotations: Path) -> Path:
    """``images/`` beside the JSON file when it exists, else the JSON file's folder."""
    beside = annotations.parent / "images"
    return beside if beside.is_dir() else annotations.parent


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise InputError(f"data: {str(path)!r} is not valid JSON ({e})") from None
    if not isinstance(data, dict) or not all(isinstance(data.get(k), list) for k in ("images", "annotations",
                                                                                      "categories")):
        raise InputError(f"data: {str(path)!r} is not COCO JSON (expected lists 'images', 'annotations' "
                         f"and 'categories')")
    return data


def _is_id(value: Any) -> bool:
    """A COCO id: an int (not a bool) or a non-empty string."""
    return (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, str) and value != "")


def read_dataset(annotations: str | os.PathLike[str], names: dict[int, str], images_folder: str | os.PathLike[str] | None = None,
                 issues: DataIssues | None = None) -> GroundTruth:
    """Ground truth of a COCO JSON file for a model with classes ``names``; image files are looked
    up by ``file_name`` under ``images_folder`` (default: ``default_images_folder``)."""
    path = Path(annotations).expanduser()
    if not path.is_file():
        raise InputError(f"data: no such COCO JSON file: {str(path)!r}")
    data = _load(path)
    folder = Path(images_folder).expanduser() if images_folder else default_images_folder(path)
    issues = issues if issues is not None else DataIssues()
    by_name = {v: k for k, v in names.items()}
    # Each entry is type-checked: a malformed one is counted (malformed_line) and skipped, never a traceback.
    categories = []
    for cat in data["categories"]:
        if isinstance(cat, dict) and _is_id(cat.get("id")) and isinstance(cat.get("name"), str):
            categories.append(cat)
        else:
            issues.add("malformed_line", f"{path.name} category {_short(cat)}")
    class_of: dict[Any, int] = {}
    category_ids: dict[int, int] = {}
    for cat in categories:
        if cat["name"] in by_name:
            class_of[cat["id"]] = by_name[cat["name"]]
            category_ids[by_name[cat["name"]]] = cat["id"]
    if not class_of:
        raise InputError(f"data: no category of {path.name} is named like a class of the model "
                         f"(categories {[c['name'] for c in categories][:5]}..., model classes "
                         f"{list(names.values())[:5]}...)")
    # Classes without a category of their own still need an id the file does not use.
    spare = max([c["id"] for c in categories if isinstance(c["id"], int)] + [0]) + 1
    for c in sorted(names):
        if c not in category_ids:
            category_ids[c], spare = spare, spare + 1
    image_infos = []
    for info in data["images"]:
        if isinstance(info, dict) and _is_id(info.get("id")) and isinstance(info.get("file_name"), str) \
                and info["file_name"]:
            image_infos.append(info)
        else:
            issues.add("malformed_line", f"{path.name} image {_short(info)}")
    listed = {info["id"] for info in image_infos}
    anns_of: dict[Any, list[dict[str, Any]]] = {}
    for ann in data["annotations"]:
        if not isinstance(ann, dict) or not _is_id(ann.get("image_id")):
            issues.add("malformed_line", f"{path.name} annotation {_short(ann)}")
        elif ann["image_id"] not in listed:
            issues.add("missing_image", f"{path.name} annotation {_short(ann.get('id'))} "
                                        f"(image_id {_short(ann['image_id'])} is not among the images)")
        else:
            anns_of.setdefault(ann["image_id"], []).append(ann)

    seen: dict[str, Path] = {}
    images: list[ImageTruth] = []
    for info in image_infos:
        file = folder / info["file_name"]
        if not file.is_file():
            issues.add("missing_image", info["file_name"])
            continue
        sha = image_sha256(file, issues)
        if sha is None or later_copy(sha, file, seen, issues):
            continue
        h, w = info.get("height"), info.get("width")
        size = (int(h), int(w)) if all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                                       and v > 0 for v in (h, w)) else None
        classes, boxes, crowd = [], [], []
        for ann in anns_of.get(info["id"], []):
            where = f"{file.name} annotation {_short(ann.get('id'))}"
            if not _is_id(ann.get("category_id")):
                issues.add("malformed_line", f"{where} (category_id {_short(ann.get('category_id'))})")
                continue
            if ann["category_id"] not in class_of:
                issues.add("unknown_category", f"{where} (category {ann.get('category_id')})")
                continue
            box = ann.get("bbox")
            if (not isinstance(box, list) or len(box) != 4 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in box)
                    or not all(math.isfinite(v) for v in box)):
                issues.add("malformed_line", where)
                continue
            x, y, bw, bh = (float(v) for v in box)
            xyxy = np.array([x, y, x + bw, y + bh])
            clipped = xyxy.clip(0, [size[1], size[0], size[1], size[0]]) if size else xyxy.clip(0)
            if bw <= 0 or bh <= 0 or clipped[2] <= clipped[0] or clipped[3] <= clipped[1]:
                issues.add("empty_box", where)
                continue
            if np.abs(clipped - xyxy).max() > 0.5:  # half a pixel: tools round to whole pixels
                issues.add("box_outside_image", where)
            classes.append(class_of[ann["category_id"]])
            boxes.append(clipped)
            crowd.append(bool(ann.get("iscrowd", 0)))
        images.append(ImageTruth(file, sha, np.array(classes, np.int64), np.array(boxes, np.float64).reshape(-1, 4),
                                 np.array(crowd, bool), "pixels", size))
    if not images:
        raise InputError(f"data: {path.name} lists no image found under {str(folder)!r}")
    return GroundTruth(images, dict(names), category_ids, "coco-json", issues)


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
