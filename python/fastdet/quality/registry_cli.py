"""`fastdet registry add/list/show`: the model registry ($FASTDET_REGISTRY)."""

from __future__ import annotations

import argparse
import json

HELP = "model registry: add versions, list them, show one (champion and history)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--root", default=None, help="registry folder (default $FASTDET_REGISTRY, else ~/.fastdet/registry)")
    sub = p.add_subparsers(dest="action", required=True)
    a = sub.add_parser("add", help="add a model file as a new version (the first becomes the champion)")
    a.add_argument("name", help="model line, e.g. pedestrian")
    a.add_argument("model", help="ONNX file or OpenVINO export folder")
    a.add_argument("--version", default=None, help="version id (default v1, v2, ...)")
    a.add_argument("--parent", default=None, help="the version it was derived from (lineage)")
    a.add_argument("--note", default="", help="what changed (data, training, quantization...)")
    a.add_argument("--eval", metavar="REPORT", default=None, help="attach a `fastdet eval --report` JSON")
    ls = sub.add_parser("list", help="names with their champion and versions")
    ls.add_argument("name", nargs="?", default=None)
    s = sub.add_parser("show", help="one name (champion history, decisions) or one version (record, evals), as JSON")
    s.add_argument("name")
    s.add_argument("version", nargs="?", default=None)


def run(args: argparse.Namespace) -> int:
    from ..errors import InputError
    from .registry import Registry

    if args.root is not None and not args.root.strip():
        raise InputError("--root: an empty path (leave it out for $FASTDET_REGISTRY or ~/.fastdet/registry)")
    reg = Registry(args.root)
    if args.action == "add":
        report = _read_report(args.eval) if args.eval is not None else None  # checked before anything is added
        record = reg.add(args.name, args.model, version=args.version, parent=args.parent, note=args.note,
                         eval_report=report)
        champ = reg.champion(args.name)
        role = " (champion)" if champ and champ["version"] == record["version"] else ""
        print(f"{args.name} {record['version']}{role}: sha256 {record['sha256'][:16]}..., from {record['source']}")
        return 0
    if args.action == "list":
        names = [reg.check_known(args.name)] if args.name is not None else reg.names()
        if not names:
            print(f"no models in {reg.root}")
        for name in names:
            champ = reg.champion(name)
            for v in reg.versions(name):
                mark = "*" if champ and champ["version"] == v["version"] else " "
                parent = f" <- {v['parent']}" if v["parent"] else ""
                print(f"{mark} {name} {v['version']:8s} {v['created']}  {v['sha256'][:12]}{parent}  {v['note']}")
        return 0
    reg.check_known(args.name)
    if args.version is not None:
        out = {**reg.version(args.name, args.version), "evals": [
            {"created": e["created"], "data": e["data"]["path"], "data_sha256": e["data"]["sha256"],
             "backend": e["backend"], **{k: e["metrics"][k] for k in ("map50_95", "map50", "person_ap50_95")},
             "p50_ms": e["latency_ms"]["p50_ms"]} for e in reg.evals(args.name, args.version)]}
    else:
        out = {"name": args.name, "champion": reg.champion(args.name),
               "versions": [v["version"] for v in reg.versions(args.name)],
               "decisions": [{k: d.get(k) for k in ("time", "promoted", "reason", "file")} | {
                   "challenger": d["challenger"]["version"], "champion": d["champion"]["version"]}
                   for d in reg.decisions(args.name)]}
    print(json.dumps(out, indent=1))
    return 0


def _read_report(path: str) -> dict:
    from pathlib import Path

    from ..errors import InputError
    from .registry import check_eval_report

    try:
        report = json.loads(Path(path).read_text())
    except OSError as e:
        raise InputError(f"--eval: cannot read {path!r} ({e.strerror or e})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"--eval: {path!r} is not JSON ({e})") from None
    return check_eval_report(report, f"--eval {path}")
