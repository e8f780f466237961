"""What a DATA argument names, read into ``GroundTruth``: a folder of images in YOLO layout, a
split file (.txt listing images), an ultralytics dataset YAML (its ``val`` split unless another is
named), or a COCO JSON file (images under ``images/`` beside it unless given)."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import InputError
from . import coco_json, yolo_data
from ..cli_arguments import data_path
from .data_issues import DataIssues
from .ground_truth import GroundTruth

SPLITS = ("train", "val", "test")


def yaml_split(config: Path, split: str) -> Path:
    """The folder or split file of ``split`` in an ultralytics dataset YAML (``path`` is the root,
    relative to the YAML's folder; each split is relative to the root)."""
    try:
        import yaml
    except ImportError:
        raise ImportError("reading a dataset YAML needs PyYAML: pip install 'fastdet[quality]'") from None
    try:
        data = yaml.safe_load(config.read_text())
    except yaml.YAMLError as e:
        raise InputError(f"data: {str(config)!r} is not valid YAML ({e})") from None
    if not isinstance(data, dict):
        raise InputError(f"data: {str(config)!r} is not a dataset YAML (expected keys path, train, val, test)")
    entry = data.get(split)
    if not isinstance(entry, str) or not entry:
        raise InputError(f"data: {config.name} names no {split!r} split (a folder or .txt); it has "
                         f"{sorted(k for k in SPLITS if data.get(k))}")
    root = Path(str(data.get("path") or "."))
    root = root if root.is_absolute() else config.parent / root
    return root / entry


def resolve(data: str | os.PathLike[str], split: str | None = None) -> Path:
    """The folder, split file or JSON file that ``data`` stands for (a YAML resolves to its
    ``split``, default "val"); a split name given for anything else, or an empty path, is an
    ``InputError``."""
    path = data_path(data)
    if path.suffix.lower() in (".yaml", ".yml"):
        if not path.is_file():
            raise InputError(f"data: no such dataset YAML: {str(path)!r}")
        return yaml_split(path, split or "val")
    if split is not None:
        raise InputError(f"--split {split}: only a dataset YAML has named splits; {str(path)!r} is not one")
    return path


def read_ground_truth(data: str | os.PathLike[str], names: dict[int, str], *, split: str | None = None,
                      images: str | os.PathLike[str] | None = None,
                      issues: DataIssues | None = None) -> GroundTruth:
    """Ground truth of ``data`` for a model with classes ``names``, problems counted in ``issues``."""
    path = resolve(data, split)
    if path.suffix.lower() == ".json":
        return coco_json.read_dataset(path, names, None if images is None else data_path(images, "--images"),
                                      issues)
    if images is not None:
        raise InputError("--images: only for COCO JSON data (YOLO labels sit beside their images)")
    return yolo_data.read_dataset(path, names, issues)
