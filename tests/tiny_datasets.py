"""Tiny labelled datasets in YOLO layout (images/ + labels/), written in-test."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

NAMES = {0: "person", 1: "car"}


def write_image(folder: Path, name: str, pixels: np.ndarray) -> Path:
    path = folder / "images" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), pixels)
    return path


def write_labels(folder: Path, stem: str, rows: Sequence[str] | str) -> Path:
    path = folder / "labels" / f"{stem}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(rows if isinstance(rows, str) else "".join(r + "\n" for r in rows))
    return path


def two_images(folder: Path) -> Path:
    """a.png (64x128 grey 200: a person and a car) and b.png (64x128 white, no label file)."""
    write_image(folder, "a.png", np.full((64, 128, 3), 200, np.uint8))
    write_image(folder, "b.png", np.full((64, 128, 3), 255, np.uint8))
    write_labels(folder, "a", ["0 0.25 0.5 0.25 0.5", "1 0.75 0.5 0.125 0.25"])
    return folder


def many_images(folder: Path, n: int, seed: int = 0, start: int = 0) -> list[Path]:
    """``n`` distinct 8x8 random images, a third with a person label, a third with a car, a third
    unlabelled (strata person / other / empty)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(start, start + n):
        out.append(write_image(folder, f"im{i:05d}.png", rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)))
        if i % 3 == 0:
            write_labels(folder, f"im{i:05d}", ["0 0.5 0.5 0.5 0.5"])
        elif i % 3 == 1:
            write_labels(folder, f"im{i:05d}", ["1 0.5 0.5 0.5 0.5"])
    return out
