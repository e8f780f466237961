"""`fastdet split DATA --ratios 80,10,10 --seed S`: a deterministic, stratified, stable split with
a sealed test part (see ``fastdet.quality.split``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "split a YOLO-format dataset into train/val/test (deterministic, stable, test sealed)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("data", help="images folder in YOLO layout (images/ + labels/), or a split file (.txt)")
    p.add_argument("--ratios", default="80,10,10", help="train,val,test shares (default 80,10,10)")
    p.add_argument("--seed", type=int, required=True, help="the split's seed (write it down: it is the split)")
    p.add_argument("--out", "-o", default=None,
                   help="folder for train.txt, val.txt, test.txt, data.yaml and split.json (default: the data folder)")
    p.add_argument("--person-class", type=int, default=0, help="class id of person, for the strata (default 0)")
    p.add_argument("--names", default=None, help="dataset YAML whose names go into data.yaml (default: a YAML with "
                                                 "names in the data folder, if there is exactly one)")
    p.add_argument("--force", action="store_true", help="replace an existing split made with another seed or ratios")
    p.add_argument("--strict", action="store_true", help="any dataset problem is an error, not a counted warning")


def _names(data: Path, given: str | None) -> dict[int, str] | None:
    import yaml

    from ..errors import InputError

    candidates = [Path(given)] if given else sorted(data.glob("*.y*ml")) if data.is_dir() else []
    found = []
    for c in candidates:
        try:
            loaded = yaml.safe_load(c.read_text())
        except (OSError, yaml.YAMLError) as e:
            if given:
                raise InputError(f"--names {given!r}: cannot read it as YAML ({e})") from None
            continue
        names = loaded.get("names") if isinstance(loaded, dict) else None
        if isinstance(names, list):
            names = dict(enumerate(names))
        if isinstance(names, dict):
            found.append({int(k): str(v) for k, v in names.items()})
    if given and not found:
        raise InputError(f"--names {given!r}: no 'names' in it")
    return found[0] if len(found) == 1 else None


def run(args: argparse.Namespace) -> int:
    from ..errors import InputError
    from ..cli_arguments import data_path, output_folder
    from .split import parse_ratios, read_manifest, split_dataset, write_split

    data = data_path(args.data)
    if not data.exists():
        raise InputError(f"data: no such folder or split file: {args.data!r}")
    out = output_folder(args.out, "--out") if args.out is not None else (data if data.is_dir() else data.parent)
    ratios = parse_ratios(args.ratios)
    previous = None if args.force else read_manifest(out)
    result = split_dataset(data, ratios, args.seed, person_class=args.person_class, previous=previous)
    result.issues.report(args.strict, str(data))
    written = write_split(result, out, seed=args.seed, ratios=ratios, person_class=args.person_class,
                          names=_names(data if data.is_dir() else data.parent, args.names))
    shares = result.shares()
    print(f"{'stratum':8s} {'images':>6s}  " + "  ".join(f"{k:>13s}" for k in ("train", "val", "test")))
    for s, row in result.counts.items():
        n = sum(row.values())
        print(f"{s:8s} {n:6d}  " + "  ".join(f"{row[k]:6d} ({100 * shares[s][k]:4.1f}%)" for k in ("train", "val", "test")))
    totals = {k: sum(r[k] for r in result.counts.values()) for k in ("train", "val", "test")}
    print(f"{'all':8s} {sum(totals.values()):6d}  " + "  ".join(f"{totals[k]:6d}{'':8s}" for k in ("train", "val", "test")))
    how = "thresholds reused from the existing split.json" if result.reused else "new thresholds"
    print(f"wrote {', '.join(p.name for p in written.values())} to {out}/ ({how}); the test split is sealed: "
          f"`fastdet eval` on it needs --test and is logged in {out / 'test_log.jsonl'}", file=sys.stderr)
    return 0
