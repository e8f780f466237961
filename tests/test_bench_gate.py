"""The speed gate can fail: run it with fastdet slowed on purpose and expect exit 1; and the
pytest-benchmark JSON regression check on two small synthetic files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import gate
from fastdet.bench import regression

GATES = Path(__file__).resolve().parents[1] / "bench" / "gates.toml"

pytest.importorskip("cv2", reason="the reference pipelines need OpenCV")


def run_gate(*args: str, delay_us: int | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop(gate.INJECT_DELAY_ENV, None)
    if delay_us is not None:
        env[gate.INJECT_DELAY_ENV] = str(delay_us)
    return subprocess.run([sys.executable, "-m", "bench.gate", *args], env=env, capture_output=True,
                          text=True, timeout=60)


def test_gate_file_parses() -> None:
    settings, gates = gate.load_gates(GATES)
    assert {g["kind"] for g in gates} == set(gate.KINDS)
    assert all(g["floor"] > 1 for g in gates)


def test_gate_fails_when_fastdet_is_slowed() -> None:
    # 20 ms per call makes every fastdet side far slower than its reference (ratios << 1).
    r = run_gate(str(GATES), "--rounds", "3", "--only", "letterbox", "--only", "decode_nms", delay_us=20000)
    assert r.returncode == 1, r.stdout + r.stderr
    assert r.stdout.count("FAIL") == 2, r.stdout
    assert "slowed on purpose" in r.stdout


def test_gate_passes_at_floor_zero(tmp_path: Path) -> None:
    g = tmp_path / "gates.toml"
    g.write_text('[settings]\nrounds = 3\n\n[[gate]]\nname = "decode"\nkind = "decode_nms"\nfloor = 0\n')
    r = run_gate(str(g))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 of 1 gates" in r.stdout


def test_gate_rejects_a_bad_file(tmp_path: Path) -> None:
    g = tmp_path / "gates.toml"
    g.write_text('[[gate]]\nname = "x"\nkind = "nope"\nfloor = 1\n')
    r = run_gate(str(g))
    assert r.returncode == 2
    assert "kind must be one of" in r.stderr


def _bench_json(path: Path, medians: dict[str, float]) -> Path:
    path.write_text(json.dumps({"benchmarks": [
        {"name": n, "fullname": f"bench/test_x.py::{n}", "stats": {"median": m, "mean": m}} for n, m in medians.items()
    ]}))
    return path


def test_regression_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = _bench_json(tmp_path / "base.json", {"a": 1.0e-3, "b": 2.0e-3, "gone": 1e-3})
    ok = _bench_json(tmp_path / "ok.json", {"a": 1.05e-3, "b": 1.5e-3, "new": 1e-3})
    slow = _bench_json(tmp_path / "slow.json", {"a": 1.2e-3, "b": 2.0e-3})
    assert regression.compare_files(base, ok, regression.parse_percent("10%")) == 0
    assert regression.compare_files(base, slow, regression.parse_percent("10%")) == 1
    out = capsys.readouterr().out
    assert "REGRESSED" in out and "+20.0%" in out and "only in baseline" in out
    # the same through the command line
    r = run_gate("--baseline", str(base), "--current", str(slow), "--max-regression", "25%")
    assert r.returncode == 0, r.stdout + r.stderr
    r = run_gate("--baseline", str(base), "--current", str(slow), "--max-regression", "10%")
    assert r.returncode == 1, r.stdout + r.stderr


def test_parse_percent() -> None:
    assert regression.parse_percent("10%") == pytest.approx(0.10)
    assert regression.parse_percent("5") == pytest.approx(0.05)
    assert regression.parse_percent(0.2) == pytest.approx(0.2)
    with pytest.raises(ValueError, match="percentage"):
        regression.parse_percent("fast")
