"""Regression check between two pytest-benchmark JSON files, for runners with stable timings.

    fastdet bench --baseline saved.json --current new.json --max-regression 10%

Benchmarks are matched by ``fullname``; a benchmark fails when its ``stat`` (median by default)
in ``current`` exceeds the baseline's by more than ``max_regression``. Benchmarks present on only
one side are listed, not failed (renaming a benchmark is not a slowdown). Save a baseline with
``pytest bench/ --benchmark-json saved.json`` on the same runner.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any


def parse_percent(text: str | float) -> float:
    """``"10%"``, ``"10"`` or ``0.1`` -> 0.10 (values above 1 without a % sign are percent)."""
    if isinstance(text, (int, float)):
        value = float(text)
    else:
        s = str(text).strip()
        try:
            value = float(s.rstrip("%"))
        except ValueError:
            raise ValueError(f"--max-regression: expected a percentage such as 10%, got {text!r}") from None
        if s.endswith("%") or value > 1:
            value /= 100
    if value < 0:
        raise ValueError(f"--max-regression: expected a non-negative percentage, got {text!r}")
    return value


def load_stats(path: str | os.PathLike[str], stat: str = "median") -> dict[str, float]:
    """fullname -> ``stat`` in seconds, from a pytest-benchmark JSON file."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"benchmark JSON: no such file: {str(p)!r}")
    try:
        data = json.loads(p.read_text())
        benchmarks = data["benchmarks"]
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise ValueError(f"{p}: not a pytest-benchmark JSON file (--benchmark-json output): {e}") from None
    out: dict[str, float] = {}
    for b in benchmarks:
        name = b.get("fullname") or b.get("name")
        stats: dict[str, Any] = b.get("stats", {})
        if stat not in stats:
            raise ValueError(f"{p}: benchmark {name!r} has no statistic {stat!r}; have {sorted(stats)}")
        out[name] = float(stats[stat])
    return out


def compare(baseline: dict[str, float], current: dict[str, float], max_regression: float,
            out=None) -> int:
    """Prints a table; returns 1 when any common benchmark regressed beyond ``max_regression``."""
    out = out or sys.stdout
    common = [n for n in baseline if n in current]
    rows, failed = [], 0
    for name in common:
        change = current[name] / baseline[name] - 1 if baseline[name] > 0 else 0.0
        bad = change > max_regression
        failed += bad
        rows.append((name, f"{baseline[name] * 1e3:.4f}", f"{current[name] * 1e3:.4f}", f"{change:+.1%}",
                     "REGRESSED" if bad else "ok"))
    header = ("benchmark", "baseline ms", "current ms", "change", "")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, *rows]:
        print("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))), file=out)
    for name in baseline:
        if name not in current:
            print(f"only in baseline (not compared): {name}", file=out)
    for name in current:
        if name not in baseline:
            print(f"only in current (not compared): {name}", file=out)
    if not common:
        print("no benchmark is in both files: nothing compared", file=out)
        return 1
    print(f"{failed} of {len(common)} benchmarks slower than the baseline by more than {max_regression:.0%}", file=out)
    return 1 if failed else 0


def compare_files(baseline: str | os.PathLike[str], current: str | os.PathLike[str], max_regression: float,
                  stat: str = "median", out=None) -> int:
    return compare(load_stats(baseline, stat), load_stats(current, stat), max_regression, out)


def add_arguments(p) -> None:  # argparse.ArgumentParser
    p.add_argument("--baseline", metavar="JSON", help="saved pytest-benchmark JSON to compare against")
    p.add_argument("--current", metavar="JSON", help="new pytest-benchmark JSON")
    p.add_argument("--max-regression", default="10%", metavar="PCT",
                   help="fail when a benchmark's statistic is this much slower (default 10%%)")
    p.add_argument("--stat", default="median", help="statistic compared (default median)")


def run(args) -> int:  # argparse.Namespace
    """The comparison of --baseline and --current (both required)."""
    if not (args.baseline and args.current):
        raise ValueError("comparing runs needs both --baseline and --current")
    return compare_files(args.baseline, args.current, parse_percent(args.max_regression), args.stat)
