"""pytest-benchmark suites: fastdet and its reference pipeline in the same run, in one group.

    pytest bench/                                  # all suites, CPU
    pytest bench/ --benchmark-json out.json        # save for `--baseline` comparisons
    pytest bench/ -k letterbox --benchmark-columns=median,iqr,rounds

Every benchmark sets ``extra_info["impl"]`` (fastdet, opencv, torchvision, onnxruntime+opencv);
at the end the summary prints, per group, the speed-up of fastdet over each reference (median
over median) and, for end-to-end groups, the per-frame overhead (wall - inference) of each side.
The ratios also go into the JSON under ``fastdet_ratios``.

Real assets (models, images) are read from ../shared/assets relative to the repository root,
or $FASTDET_ASSETS; benchmarks that need them are skipped when they are absent. The plain
``pytest`` run collects tests/ only (testpaths), never these files.
"""

from __future__ import annotations

import statistics
from pathlib import Path

import numpy as np
import pytest

from bench import synthetic
from bench.assets import ASSETS

REPO_ROOT = Path(__file__).resolve().parents[1]


def asset(*parts: str) -> Path:
    """Path of a shared asset, or skips the benchmark when it is missing."""
    p = ASSETS.joinpath(*parts)
    if not p.is_file():
        pytest.skip(f"asset not found: {p} (set FASTDET_ASSETS to the assets folder)")
    return p


def read_bgr(path: Path) -> np.ndarray:
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert img is not None, f"cannot read {path}"
    return img


@pytest.fixture(scope="session")
def frames() -> dict[str, object]:
    """name -> zero-argument loader of a uint8[H, W, 3] BGR frame."""
    return {
        "1080p": lambda: synthetic.frame(1920, 1080),
        "bus.jpg": lambda: read_bgr(asset("images", "bus.jpg")),
    }


@pytest.fixture(scope="session")
def synthetic_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("onnx", reason="the synthetic model needs the onnx package")
    return synthetic.tiny_model(tmp_path_factory.mktemp("models") / "tiny.onnx", candidates=150)


def _median(b) -> float:
    return float(b.stats.stats.median) if hasattr(b.stats, "stats") else float(b.stats.median)


def _ratios(config: pytest.Config) -> list[dict[str, object]]:
    session = getattr(config, "_benchmarksession", None)
    benchmarks = getattr(session, "benchmarks", None) or []
    groups: dict[str, dict[str, object]] = {}
    for b in benchmarks:
        impl = (b.extra_info or {}).get("impl")
        if impl and b.group:
            groups.setdefault(b.group, {})[impl] = b
    out = []
    for group, impls in sorted(groups.items()):
        fd = impls.get("fastdet")
        if fd is None:
            continue
        for impl, ref in impls.items():
            if impl == "fastdet":
                continue
            row: dict[str, object] = {"group": group, "reference": impl, "fastdet_ms": _median(fd) * 1e3,
                                      "reference_ms": _median(ref) * 1e3, "speedup": _median(ref) / _median(fd)}
            fo, ro = fd.extra_info.get("overhead_ms"), ref.extra_info.get("overhead_ms")
            if fo is not None and ro is not None:
                row.update(fastdet_overhead_ms=fo, reference_overhead_ms=ro, overhead_ratio=ro / max(fo, 1e-9))
            out.append(row)
    return out


def pytest_benchmark_update_json(config: pytest.Config, benchmarks, output_json: dict) -> None:
    output_json["fastdet_ratios"] = _ratios(config)


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    rows = _ratios(config)
    if not rows:
        return
    tr = terminalreporter
    tr.section("fastdet vs references (median / median, same run)")
    for r in rows:
        line = (f"{r['group']:<44} vs {r['reference']:<18} fastdet {r['fastdet_ms']:9.3f} ms  "
                f"reference {r['reference_ms']:9.3f} ms  speed-up {r['speedup']:6.2f}x")
        if "overhead_ratio" in r:
            line += (f"  | overhead fastdet {r['fastdet_overhead_ms']:.2f} ms vs {r['reference_overhead_ms']:.2f} ms"
                     f" ({r['overhead_ratio']:.2f}x)")
        tr.write_line(line)


def stage_recorder(timings_of) -> tuple[dict[str, list[int]], object]:
    """(samples, record): call ``record()`` after each timed call to keep that call's stage times
    (``timings_of()`` returns a Detector.timings-like dict of nanoseconds)."""
    samples: dict[str, list[int]] = {}

    def record() -> None:
        for k, v in timings_of().items():
            samples.setdefault(k, []).append(int(v))

    return samples, record


def stage_medians_ms(samples: dict[str, list[int]]) -> dict[str, float]:
    return {k: statistics.median(v) / 1e6 for k, v in samples.items()}
