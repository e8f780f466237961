"""Runs every fuzz target for a fixed time each and fails if any of them found a crash.

    python tests/fuzz/run_all.py [--seconds 20] [--out DIR]

Prints each target's executions and time; exit status 1 when a target stopped on a crash or
garbage result (its reproducer is left in --out).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGETS = ("decode", "letterbox", "nms", "detect")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--out", default=None, help="folder for reproducers (default: a temporary folder)")
    args = ap.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="fastdet-fuzz-"))
    out.mkdir(parents=True, exist_ok=True)
    script = Path(__file__).resolve().parent / "fuzz_targets.py"
    failed = []
    for name in TARGETS:
        t = time.perf_counter()
        p = subprocess.run([sys.executable, str(script), name, f"-max_total_time={args.seconds}",
                            f"-artifact_prefix={out}/{name}-", "-rss_limit_mb=4096", "-print_final_stats=1"],
                           capture_output=True, text=True)
        runs = re.findall(r"stat::number_of_executed_units:\s*(\d+)", p.stderr)
        print(f"fuzz {name}: {runs[-1] if runs else '?'} calls in {time.perf_counter() - t:.0f}s, exit {p.returncode}",
              flush=True)
        if p.returncode != 0:
            failed.append(name)
            print(p.stderr[-3000:], file=sys.stderr)
    if failed:
        print(f"fuzz: {', '.join(failed)} found a crash or garbage result; reproducers in {out}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
