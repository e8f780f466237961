"""Content hashes: of images (duplicates, the split's thresholds), of models and datasets (reports).

One hash function for all of them (SHA-256, hex), so a hash printed in a report can be checked
with ``sha256sum``.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    from .data_issues import DataIssues

_CHUNK = 1 << 20


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 (hex) of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def image_sha256(path: Path, issues: DataIssues) -> str | None:
    """An image file's hash for a dataset reader, or None (counted as ``unreadable_image``) when
    it cannot be read."""
    try:
        return file_sha256(path)
    except OSError as e:
        issues.add("unreadable_image", f"{path.name} ({e.strerror or e})")
        return None


def later_copy(sha: str, path: Path, seen: dict[str, Path], issues: DataIssues) -> bool:
    """True (counted as ``duplicate_image``) when an image with these bytes was already read;
    else remembers ``path`` as its first copy. Scoring one image twice would weigh it twice."""
    if sha in seen:
        issues.add("duplicate_image", f"{path.name} = {seen[sha].name}")
        return True
    seen[sha] = path
    return False


def model_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a model: the file's bytes, or for a folder (an OpenVINO export) the hash of its
    files' names and hashes, sorted, so the same export hashes the same wherever it lies."""
    p = Path(path)
    if p.is_file():
        return file_sha256(p)
    files = sorted(q for q in p.rglob("*") if q.is_file())
    return digest(f"{q.relative_to(p).as_posix()} {file_sha256(q)}" for q in files)


def digest(lines: Iterable[str]) -> str:
    """SHA-256 of text lines joined by newlines: the hash of a listing (a dataset, a folder)."""
    h = hashlib.sha256()
    for line in lines:
        h.update(line.encode())
        h.update(b"\n")
    return h.hexdigest()
