"""Content hashes: of images (duplicates, the split's thresholds), of models and datasets (reports).

One hash function for all of them (SHA-256, hex), so a hash printed in a report can be checked
with ``sha256sum``.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Iterable

_CHUNK = 1 << 20


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 (hex) of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


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
