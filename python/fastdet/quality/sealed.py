"""The sealed test split: evaluating on any of its images needs an explicit ``--test``, and each
such look is appended to ``test_log.jsonl`` beside the split, so a team sees how often it looked.

The split's manifest (``split.json``, written by ``fastdet split``) lists the test images by
content hash, so the seal holds whatever list or folder the images are reached through: the
manifest is looked for beside the data (the split file's folder, the dataset YAML's folder, or
inside a data folder).
"""

from __future__ import annotations

import getpass
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError
from .ground_truth import GroundTruth
from .split import MANIFEST, read_manifest

LOG = "test_log.jsonl"


@dataclass(frozen=True)
class Seal:
    """A split's manifest folder and the content hashes of its test images."""

    folder: Path
    test_sha256: frozenset[str]

    def touched(self, gt: GroundTruth) -> int:
        """How many images of ``gt`` belong to the sealed test split."""
        return sum(img.sha256 in self.test_sha256 for img in gt.images)


def find_seal(data: str | os.PathLike[str]) -> Seal | None:
    """The seal of the split that ``data`` (a folder, split file, YAML or JSON file) belongs to,
    if ``split.json`` lies beside it."""
    path = Path(data).expanduser()
    folder = path if path.is_dir() else path.parent
    manifest = read_manifest(folder)
    if manifest is None:
        return None
    return Seal(folder, frozenset(manifest["test_sha256"]))


def check(seal: Seal | None, gt: GroundTruth, allow_test: bool, what: str = "evaluation") -> int:
    """Raises ``InputError`` when ``gt`` holds sealed test images and ``allow_test`` is not set;
    returns how many it holds."""
    if seal is None:
        return 0
    n = seal.touched(gt)
    if n and not allow_test:
        raise InputError(f"data holds {n} images of the sealed test split ({seal.folder / MANIFEST}); evaluate on "
                         f"val.txt, or pass --test to look at the test split (each {what} on it is logged in "
                         f"{seal.folder / LOG})")
    return n


def log_use(seal: Seal, entry: dict[str, Any]) -> Path:
    """Appends one look at the test split (time, user, and ``entry``: model, hashes, metrics)."""
    record = {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "user": _user(), **entry}
    path = seal.folder / LOG
    line = (json.dumps(record, sort_keys=True) + "\n").encode()
    # One write() of an O_APPEND file: concurrent looks never interleave within a line.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)
    return path


def uses(folder: Path) -> list[dict[str, Any]]:
    """The logged looks at the test split of the split in ``folder``."""
    path = folder / LOG
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"
