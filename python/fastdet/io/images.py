"""Still images: files, the images and videos in folders, glob patterns."""

from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Iterator

from ..errors import Error, InputError
from ..frames import read_image
from .source import Item, Source, SourceFailure, SourceFrame

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".ts",
                  ".mts", ".3gp", ".ogv"}
GLOB_CHARS = set("*?[")


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES


def expand(spec: str | os.PathLike[str]) -> list[Path]:
    """The files ``spec`` names: itself, a folder's images and videos (recursively, sorted), or
    a glob pattern's matches (sorted). Raises InputError when it names nothing."""
    text = os.fspath(spec)
    if not text.strip():  # Path("") is the current folder: an unset variable must not mean "everything here"
        raise InputError("source: an empty path (an unset variable?); give a file, folder or pattern")
    p = Path(text)
    if p.is_dir():
        if not os.access(p, os.R_OK | os.X_OK):
            raise InputError(f"cannot read folder {text!r} (permission denied)")
        found = sorted(q for q in p.rglob("*") if (is_image(q) or is_video(q)) and q.is_file())
        if not found:
            kinds = ", ".join(sorted(IMAGE_SUFFIXES | VIDEO_SUFFIXES))
            raise InputError(f"no images or videos ({kinds}) in folder {text!r}")
        return found
    if p.is_file():
        return [p]
    if GLOB_CHARS & set(text):
        matches = sorted(Path(m) for m in glob.glob(text, recursive=True) if Path(m).is_file())
        if not matches:
            raise InputError(f"no files match {text!r}")
        return matches
    raise InputError(f"no such file or folder: {text!r}")


class ImageFiles(Source):
    """Image files, one frame each (frame 0, no timestamp). An image that cannot be read is a
    failure item in its place, so the others are still read."""

    def __init__(self, paths: list[Path], name: str | None = None) -> None:
        self.paths = paths
        self.name = name or (str(paths[0]) if len(paths) == 1 else f"{len(paths)} images")
        self.length = len(paths)

    def items(self) -> Iterator[Item]:
        for p in self.paths:
            try:
                image = read_image(p)
            except (Error, OSError) as e:
                yield SourceFailure(e, str(p), 0)
                continue
            yield SourceFrame(image.pixels, str(p), 0, None, image.rgb)
