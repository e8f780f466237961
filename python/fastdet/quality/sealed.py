"""The sealed test split: evaluating on any of its images needs an explicit ``--test``, and each
such look is appended to ``test_log.jsonl`` beside the split, so a team sees how often it looked.

The split's manifest (``split.json``, written by ``fastdet split``) lists the test images by
content hash, so the seal holds whatever list or folder the images are reached through: the
manifest is looked for in the data's folder and every folder above it, and above the folders of
the images a split file lists.
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
    """The seal of the split(s) that ``data`` (a folder, split file, YAML or JSON file) or the
    images it lists belong to: ``split.json`` in the data's folder or any folder above it, or
    above any listed image's folder. So reaching test images through a subfolder (``DATA/images``)
    or through a list written elsewhere does not get round the seal; the hashes of every split
    found are sealed together."""
    path = Path(data).expanduser()
    start = path if path.is_dir() else path.parent
    folders = {start.resolve()}
    if path.is_file() and path.suffix.lower() == ".txt":
        from .yolo_data import list_images

        try:
            folders |= {p.parent.resolve() for p in list_images(path)}
        except InputError:
            pass  # the evaluation reports an unusable list itself
    found: dict[Path, frozenset[str]] = {}
    seen: set[Path] = set()
    for folder in sorted(folders):
        for candidate in (folder, *folder.parents):
            if candidate in seen:
                break  # this folder's ancestors were searched from another image's folder
            seen.add(candidate)
            manifest = read_manifest(candidate)
            if manifest is not None:
                found[candidate] = frozenset(manifest["test_sha256"])
    if not found:
        return None
    # The log goes beside the split nearest the data (the one a user would look in).
    nearest = next((f for f in (start.resolve(), *start.resolve().parents) if f in found), min(found))
    return Seal(nearest, frozenset().union(*found.values()))


#: Uses of the data that may never look at the test split (no --test to offer them).
NEVER_ON_TEST = {"promotion"}


def check(seal: Seal | None, gt: GroundTruth, allow_test: bool, what: str = "evaluation") -> int:
    """Raises ``InputError`` when ``gt`` holds sealed test images and ``allow_test`` is not set;
    returns how many it holds."""
    if seal is None:
        return 0
    n = seal.touched(gt)
    if n and not allow_test:
        if what in NEVER_ON_TEST:
            also = f"a {what} is decided on validation data only"
        else:
            also = f"or pass --test to look at the test split (each {what} on it is logged in {seal.folder / LOG})"
        raise InputError(f"data holds {n} images of the sealed test split ({seal.folder / MANIFEST}); evaluate on "
                         f"val.txt, {also}")
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
