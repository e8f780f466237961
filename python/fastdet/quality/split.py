"""A deterministic, stable train/val/test split of a YOLO-format dataset, stratified.

Each image falls in one stratum: images with a person, other labelled images, images with no
labels. Its place is u = the first 8 bytes of SHA-256(seed, image bytes) read as a number in
[0, 1): it goes to train when u < t1, val when u < t2, test otherwise, with (t1, t2) the stratum's
thresholds. The first split of a dataset sets each stratum's thresholds at the quantiles of its
images' u that give the ratios (so shares are exact up to one image per stratum) and stores
them in ``split.json`` with every image's split (by content hash); a later split of the same
dataset with the same seed, ratios and person class keeps every earlier image where it was —
relabelled or not — and places images added since by their hash against cuts recomputed over
all images. Identical images (same bytes) take one stratum and always land together: no copy of
a test image can sit in train.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import InputError
from .data_issues import DataIssues
from .hashing import image_sha256
from .yolo_data import label_path, list_images, parse_label_file

SPLITS = ("train", "val", "test")
STRATA = ("person", "other", "empty")
MANIFEST = "split.json"

#: Any non-negative class id is a class to the splitter (it knows no model).
_ANY_CLASS = 1 << 31


def parse_ratios(text: str | Sequence[float]) -> tuple[float, float, float]:
    """"80,10,10" (or three numbers) -> fractions summing to 1; each must be >= 0 and the sum > 0."""
    try:
        parts = [float(v) for v in (text.split(",") if isinstance(text, str) else text)]
    except ValueError:
        raise InputError(f"ratios: expected three numbers like 80,10,10, got {text!r}") from None
    if len(parts) != 3 or any(not np.isfinite(v) or v < 0 for v in parts) or sum(parts) <= 0:
        raise InputError(f"ratios: expected three non-negative numbers (train, val, test) like 80,10,10, got {text!r}")
    total = sum(parts)
    return parts[0] / total, parts[1] / total, parts[2] / total


def position(seed: int, sha256: str) -> float:
    """The image's place in [0, 1): a hash of the seed and the image's content hash."""
    h = hashlib.sha256(f"{seed}:{sha256}".encode()).digest()
    return int.from_bytes(h[:8], "big") / 2.0**64


def stratum(classes: np.ndarray, person_class: int) -> str:
    if not len(classes):
        return "empty"
    return "person" if (classes == person_class).any() else "other"


def quantile_thresholds(u: np.ndarray, ratios: tuple[float, float, float]) -> tuple[float, float]:
    """Cuts (t1, t2) between sorted positions ``u`` so train gets round(n r0) images and train+val
    round(n (r0 + r1)); with no images, the ratios themselves."""
    n = len(u)
    if n == 0:
        return ratios[0], ratios[0] + ratios[1]
    s = np.sort(u)
    cuts = []
    for share in (ratios[0], ratios[0] + ratios[1]):
        k = int(round(n * share))
        lo = s[k - 1] if k > 0 else 0.0
        hi = s[k] if k < n else 1.0
        cuts.append(float((lo + hi) / 2))
    return cuts[0], cuts[1]


@dataclass
class SplitResult:
    """files: split name -> image paths; counts: stratum -> split -> images; thresholds: stratum ->
    (t1, t2); test_sha256 / train_sha256 / val_sha256: content hashes of each split's images;
    reused: an existing split.json's placements were kept."""

    files: dict[str, list[Path]]
    counts: dict[str, dict[str, int]]
    thresholds: dict[str, tuple[float, float]]
    test_sha256: list[str]
    issues: DataIssues = field(default_factory=DataIssues)
    reused: bool = False
    train_sha256: list[str] = field(default_factory=list)
    val_sha256: list[str] = field(default_factory=list)

    def shares(self) -> dict[str, dict[str, float]]:
        """stratum -> split -> share of the stratum's images (0..1)."""
        out = {}
        for s, row in self.counts.items():
            n = sum(row.values())
            out[s] = {k: (v / n if n else 0.0) for k, v in row.items()}
        return out


def read_manifest(folder: Path) -> dict | None:
    path = folder / MANIFEST
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: not valid JSON ({e}); remove it or restore it from version control") from None
    if not isinstance(data, dict) or "thresholds" not in data or "test_sha256" not in data:
        raise InputError(f"{path}: not a fastdet split manifest")
    return data


def split_dataset(data: str | os.PathLike[str], ratios: tuple[float, float, float], seed: int, *,
                  person_class: int = 0, previous: dict | None = None) -> SplitResult:
    """Splits the images of ``data`` (a folder or split file in YOLO layout). ``previous``: an
    earlier ``split.json`` of this dataset; its thresholds are reused when its seed and ratios
    match, and a mismatch is an ``InputError`` (re-splitting would move sealed test images into
    training)."""
    issues = DataIssues()
    if previous is not None:
        old = (previous.get("seed"), [round(v, 9) for v in previous.get("ratios", [])],
               previous.get("person_class", person_class))
        if old != (seed, [round(v, 9) for v in ratios], person_class):
            raise InputError(f"a split already exists with seed {old[0]}, ratios {old[1]} and person class {old[2]}; a "
                             f"different one would move images of the sealed test split into training. Keep them, "
                             f"or pass --force to replace the split (the test split is then no longer unseen)")
    rows: list[tuple[Path, str, str, float]] = []  # path, sha, stratum, position
    for path in list_images(data):
        sha = image_sha256(path, issues)
        if sha is None:
            continue
        labels = label_path(path)
        if labels.is_file():
            classes, _ = parse_label_file(labels, _ANY_CLASS, issues)
        else:
            issues.add("missing_labels", path.name)
            classes = np.zeros(0, np.int64)
        rows.append((path, sha, stratum(classes, person_class), position(seed, sha)))
    if not rows:
        raise InputError(f"data: {str(data)!r} holds no readable images")
    first: dict[str, Path] = {}
    for path, sha, _, _ in rows:
        if sha in first:
            issues.add("duplicate_image", f"{path.name} = {first[sha].name} (kept in the same split)")
        else:
            first[sha] = path
    # One stratum per image content: copies labelled differently (or one unlabelled) must not be
    # cut at different thresholds, which could put one copy in train and another in test.
    rank = {s: i for i, s in enumerate(STRATA)}
    strata: dict[str, str] = {}
    for _, sha, s, _ in rows:
        if sha not in strata or rank[s] < rank[strata[sha]]:
            strata[sha] = s
    # Images placed by the earlier split stay where they are, whatever their labels say now:
    # a test image must never leave the seal, and a training image must never enter it.
    pinned: dict[str, str] = {}
    whole = previous is not None and all(f"{k}_sha256" in previous for k in SPLITS)
    if previous is not None:
        for name in SPLITS:
            for sha in previous.get(f"{name}_sha256", []):
                pinned[sha] = name
    thresholds: dict[str, tuple[float, float]] = {}
    for s in STRATA:
        if previous is not None and not whole and s in previous["thresholds"]:
            # An older manifest knows only the test images: its cuts keep the others in place.
            t1, t2 = previous["thresholds"][s]
            thresholds[s] = (float(t1), float(t2))
        else:
            # Each distinct image counts once when placing the cuts (copies share a position);
            # images pinned by an earlier split take part, so new images fill the ratios overall.
            thresholds[s] = quantile_thresholds(
                np.array(sorted({p for _, sha, _, p in rows if strata[sha] == s})), ratios)
    files: dict[str, list[Path]] = {k: [] for k in SPLITS}
    counts = {s: dict.fromkeys(SPLITS, 0) for s in STRATA}
    placed: dict[str, set[str]] = {k: set() for k in SPLITS}
    for path, sha, _, p in rows:
        s = strata[sha]
        t1, t2 = thresholds[s]
        name = pinned.get(sha) or ("train" if p < t1 else "val" if p < t2 else "test")
        files[name].append(path)
        counts[s][name] += 1
        placed[name].add(sha)
    test_sha = placed["test"]
    # A test image of the earlier split that is gone from the data stays sealed: it may come back.
    if previous is not None:
        test_sha |= set(previous.get("test_sha256", [])) - placed["train"] - placed["val"]
    return SplitResult(files, counts, thresholds, sorted(test_sha), issues, previous is not None,
                       sorted(placed["train"]), sorted(placed["val"]))


def _listed(path: Path, out: Path) -> str:
    """A split file's line for ``path``: ``./relative`` when under the output folder (ultralytics
    resolves ``./`` against the split file's folder), else absolute."""
    try:
        return "./" + path.resolve().relative_to(out.resolve()).as_posix()
    except ValueError:
        return str(path.resolve())


def write_split(result: SplitResult, out: Path, *, seed: int, ratios: tuple[float, float, float],
                person_class: int, names: dict[int, str] | None) -> dict[str, Path]:
    """Writes train.txt / val.txt / test.txt, data.yaml (ultralytics' dataset YAML) and
    split.json (seed, ratios, thresholds, counts, the test images' hashes) into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for name in SPLITS:
        written[name] = out / f"{name}.txt"
        written[name].write_text("".join(_listed(p, out) + "\n" for p in result.files[name]))
    if names is None:
        names = {}
    lines = [f"# written by fastdet split (seed {seed}); the test split is sealed: see split.json",
             f"path: {json.dumps(str(out.resolve()))}", "train: train.txt", "val: val.txt", "test: test.txt",
             "names:"] + [f"  {k}: {json.dumps(v)}" for k, v in sorted(names.items())]
    written["yaml"] = out / "data.yaml"
    written["yaml"].write_text("\n".join(lines) + "\n")
    manifest = {
        "format": "fastdet-split/1",
        "seed": seed,
        "ratios": list(ratios),
        "person_class": person_class,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "files": {k: f"{k}.txt" for k in SPLITS},
        "counts": result.counts,
        "thresholds": {k: list(v) for k, v in result.thresholds.items()},
        "test_sha256": result.test_sha256,
        # Where every image went, so a later split keeps each one in place (stable, sealed).
        "train_sha256": result.train_sha256,
        "val_sha256": result.val_sha256,
    }
    written["manifest"] = out / MANIFEST
    written["manifest"].write_text(json.dumps(manifest, indent=1) + "\n")
    return written
