"""Counts a pytest junit XML's tests and skips; exits 1 on a skip whose reason is not expected.

    python bench/junit_skips.py RESULTS.xml

On the GPU box every GPU test must run: a skip there means a missing dependency or a broken
CUDA build hiding behind "skipped", so only the reasons below, which name components the box is
known not to have, are allowed.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET

EXPECTED_SKIP_REASONS = (
    "TensorRT",                 # never installed on the GPU boxes this check runs on
    "CUDAExecutionProvider",    # onnxruntime-gpu likewise
)


def main(path: str) -> int:
    root = ET.parse(path).getroot()
    tests = skipped = 0
    unexpected = []
    for case in root.iter("testcase"):
        tests += 1
        for skip in case.findall("skipped"):
            skipped += 1
            reason = skip.get("message", "")
            if not any(r in reason for r in EXPECTED_SKIP_REASONS):
                unexpected.append(f"{case.get('name')}: {reason}")
    if tests == 0:
        print("no tests ran")
        return 1
    if unexpected:
        print("; ".join(unexpected[:5]) + (f" (+{len(unexpected) - 5} more)" if len(unexpected) > 5 else ""))
        return 1
    print(f"{tests} tests, {skipped} expected skips")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
