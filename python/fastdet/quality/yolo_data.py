"""YOLO-format datasets: a folder of images (or a split file listing them) with one label file per
image, ``labels/<stem>.txt`` beside ``images/`` (ultralytics' layout), rows ``class cx cy w h``
normalised to [0, 1]."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


def list_images(source: str | os.PathLike[str]) -> list[Path]:
    """Images of ``source``, sorted: a folder (searched recursively), or a split file (.txt) with
    one image path per line, relative to the split file's folder unless absolute."""
    src = Path(source).expanduser()
    if src.is_dir():
        found = sorted(p for p in src.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not found:
            raise ValueError(f"data: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in folder {str(src)!r}")
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
            raise ValueError(f"data: split file {str(src)!r} lists no images")
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


def read_labels(image: Path) -> np.ndarray:
    """float64[K, 5] rows (class, cx, cy, w, h) normalised; an image without a label file has none."""
    path = label_path(image)
    if not path.is_file():
        return np.zeros((0, 5))
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    bad = next((n for n, r in enumerate(rows, 1) if len(r) != 5), None)
    if bad is not None:
        raise ValueError(f"labels: {path} line {bad}: expected 5 numbers (class cx cy w h; segment "
                         f"polygons are not read), got {len(rows[bad - 1])}")
    try:
        return np.array([[float(v) for v in r] for r in rows], dtype=np.float64).reshape(-1, 5)
    except ValueError:
        raise ValueError(f"labels: {path} is not in YOLO format (class cx cy w h per line)") from None
