"""atheris fuzz targets for fastdet's public entry points (coverage-guided on fastdet's Python
layer; the native core is exercised through it, and any crash ends the run).

    pip install ".[fuzz]"
    python tests/fuzz/fuzz_targets.py decode -max_total_time=600      # or letterbox, nms, detect
    python tests/fuzz/run_all.py --seconds 20                          # every target, as CI does

Any crash, or a call that returns something its contract forbids (see ``cases.Garbage``), stops
the fuzzer with the input that caused it written to ``crash-*``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

with atheris.instrument_imports(include=["fastdet"]):
    import fastdet

import cases  # noqa: E402


def _detector() -> fastdet.Detector:
    import numpy as np

    from tiny_models import yolov8_like

    # Scores follow the frame's brightness; one box is inverted on purpose (dropped, counted).
    boxes = np.array([[20, 20, 16, 16], [21, 21, 16, 16], [40, 40, -8, 8], [10, 50, 6, 6]], np.float32)
    weights = np.array([[0.9, 0.8, 0.9, 0.0], [0.0, 0.0, 0.0, 0.7]], np.float32)
    path = yolov8_like(Path(tempfile.mkdtemp()) / "tiny.onnx", boxes, weights,
                       metadata={"names": "{0: 'person', 1: 'car'}"})
    return fastdet.Detector(path, conf=0.1)


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in (*cases.ENTRY_POINTS, "detect"):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    name = sys.argv.pop(1)
    if name == "detect":
        det = _detector()

        def one(data: bytes) -> None:
            cases.call_detect(cases.AtherisSource(atheris.FuzzedDataProvider(data)), det)
    else:
        call = cases.ENTRY_POINTS[name]

        def one(data: bytes) -> None:
            call(cases.AtherisSource(atheris.FuzzedDataProvider(data)))

    atheris.Setup(sys.argv, one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
