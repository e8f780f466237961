"""Regression check between two pytest-benchmark JSON files, for runners with stable timings.

    fastdet bench --baseline saved.json --current new.json --max-regression 10%

Benchmarks are matched by ``fullname``; a benchmark fails when its ``stat`` (median by default)
in ``current`` exceeds the baseline's by more than ``max_regression``. Benchmarks present on only
one side are listed, not failed (renaming a benchmark is not a slowdown). Save a baseline with
``pytest bench/ --benchmark-json saved.json`` on the same runner.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import sys
from pathlib import Path

from ..errors import InputError


def parse_percent(text: str | float) -> float:
    """``"10%"``, ``"10"`` or ``0.1`` -> 0.10 (values above 1 without a % sign are percent).
    Anything else, a negative value, NaN or infinity is an InputError (a ValueError)."""
    if isinstance(text, numbers.Real) and not isinstance(text, bool):
        value = float(text)
    else:
        s = str(text).strip()
        try:
            value = float(s.rstrip("%"))
        except ValueError:
            raise InputError(f"--max-regression: expected a percentage such as 10%, got {text!r}") from None
        if s.endswith("%") or value > 1:
            value /= 100
    # NaN compares False with everything: it would pass every benchmark, so it is refused here.
    if not math.isfinite(value) or value < 0:
        raise InputError(f"--max-regression: expected a finite, non-negative percentage such as 10%, got {text!r}")
    return value


def load_stats(path: str | os.PathLike[str], stat: str = "median", label: str = "benchmark JSON") -> dict[str, float]:
    """fullname -> ``stat`` in seconds, from a pytest-benchmark JSON file. ``label`` names the file
    in messages (the flag it came from). A file that is not pytest-benchmark's output, or an entry
    without a name or without a finite, non-negative ``stat``, is an InputError naming the file and
    the entry."""
    p = Path(path)
    if not p.is_file():
        what = "is a folder, not a file" if p.is_dir() else "no such file"
        raise FileNotFoundError(f"{label}: {what}: {str(p)!r}")
    where = f"{label} {str(p)!r}"
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{where}: not a pytest-benchmark JSON file (--benchmark-json output): {e}") from None
    benchmarks = data.get("benchmarks") if isinstance(data, dict) else None
    if not isinstance(benchmarks, list):
        raise InputError(f"{where}: not a pytest-benchmark JSON file (--benchmark-json output): expected an "
                         f"object with a \"benchmarks\" list")
    out: dict[str, float] = {}
    for i, b in enumerate(benchmarks):
        entry = f"{where}: benchmarks[{i}]"
        if not isinstance(b, dict):
            raise InputError(f"{entry}: expected an object with a name and stats, got {_short(b)}")
        name = b.get("fullname") or b.get("name")
        if not isinstance(name, str) or not name:
            raise InputError(f"{entry}: expected a \"fullname\" or \"name\" string, got {_short(name)}")
        entry = f"{entry} ({name!r})"
        stats = b.get("stats")
        if not isinstance(stats, dict):
            raise InputError(f"{entry}: expected a \"stats\" object, got {_short(stats)}")
        if stat not in stats:
            raise InputError(f"{entry}: has no statistic {stat!r}; have {sorted(stats)}")
        value = stats[stat]
        if (isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value)
                or value < 0):
            raise InputError(f"{entry}: statistic {stat!r} must be a finite, non-negative number of seconds, "
                             f"got {_short(value)}")
        out[name] = float(value)
    return out


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


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
    print(f"{failed} of {len(common)} benchmarks slower than the baseline by more than {max_regression * 100:g}%",
          file=out)
    return 1 if failed else 0


def compare_files(baseline: str | os.PathLike[str], current: str | os.PathLike[str], max_regression: float,
                  stat: str = "median", out=None) -> int:
    return compare(load_stats(baseline, stat, "--baseline"), load_stats(current, stat, "--current"),
                   max_regression, out)


#: The comparison's own options and their defaults (``fastdet bench`` refuses them without
#: --baseline/--current, where they would be ignored).
COMPARING: dict[str, str] = {"max_regression": "10%", "stat": "median"}


def add_arguments(p) -> None:  # argparse.ArgumentParser
    p.add_argument("--baseline", metavar="JSON", help="saved pytest-benchmark JSON to compare against")
    p.add_argument("--current", metavar="JSON", help="new pytest-benchmark JSON")
    p.add_argument("--max-regression", default=COMPARING["max_regression"], metavar="PCT",
                   help="fail when a benchmark's statistic is this much slower (default 10%%)")
    p.add_argument("--stat", default=COMPARING["stat"], help="statistic compared (default median)")


def run(args) -> int:  # argparse.Namespace
    """The comparison of --baseline and --current (both required)."""
    if not (args.baseline and args.current):
        raise InputError("comparing runs needs both --baseline and --current")
    # Checked before either file is read: a bad threshold is the user's typo, whatever the files hold.
    max_regression = parse_percent(args.max_regression)
    return compare_files(args.baseline, args.current, max_regression, args.stat)
