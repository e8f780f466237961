"""`fastdet bench`: report contents, clear errors for --device cuda without a GPU and --plot
without matplotlib, and the gate on the user's own model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import fastdet
from bench import synthetic
from fastdet.cli import main

pytest.importorskip("onnxruntime")
pytest.importorskip("cv2")


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("onnx", reason="the synthetic model needs onnx")
    return synthetic.tiny_model(tmp_path_factory.mktemp("bench") / "tiny.onnx", candidates=50)


def test_bench_writes_a_report(model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.json"
    rc = main(["bench", str(model), "--batch", "1,2", "--frames", "640x480", "--iters", "4", "--warmup", "1",
               "--json", str(out), "--no-progress"])
    assert rc == 0
    report = json.loads(out.read_text())
    assert [r["batch"] for r in report["results"]] == [1, 2]
    for r in report["results"]:
        assert set(r["latency_ms"]) >= {"p50", "p90", "p99"}
        assert set(r["stages_ms"]) >= {"preprocess", "inference", "postprocess"}
        assert r["throughput_fps"] > 0 and len(r["samples_ms"]) == 4
    env = report["environment"]
    assert env["usable_cpus"] >= 1 and env["cpu"]
    assert set(env["versions"]) >= {"fastdet", "numpy", "onnxruntime", "opencv"}
    assert "p50 ms" in capsys.readouterr().out


@pytest.mark.skipif(fastdet.cuda_available(), reason="a GPU is present")
def test_device_cuda_without_gpu_says_why(model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", str(model), "--device", "cuda", "--iters", "1"]) == 2
    err = capsys.readouterr().err
    assert "--device cuda" in err and "--device cpu" in err


def test_plot(model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "p.png"
    args = ["bench", str(model), "--frames", "320x240", "--iters", "3", "--warmup", "0", "--plot", str(png),
            "--no-progress"]
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert main(args) == 2
        assert "pip install 'fastdet[plot]'" in capsys.readouterr().err
        return
    assert main(args) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench"]) == 2
    assert "give a MODEL" in capsys.readouterr().err
    assert main(["bench", "x.onnx", "--batch", "0"]) == 2
    assert main(["bench", "x.onnx", "--frames", "big"]) == 2


def test_gate_on_the_users_model(model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["bench", str(model), "--frames", "320x240", "--iters", "3", "--warmup", "0", "--no-progress"]
    assert main([*args, "--min-fps", "0.001", "--max-p99-ms", "1e9"]) == 0
    assert "gate passed" in capsys.readouterr().err
    assert main([*args, "--min-fps", "1e12"]) == 1
    assert "gate missed: batch 1" in capsys.readouterr().err
    assert main([*args, "--max-p99-ms", "1e-9"]) == 1
    assert main([*args, "--min-fps", "-1"]) == 2


def test_fastdets_own_gates_are_not_in_the_package() -> None:
    import importlib.util

    for name in ("gate", "references", "synthetic", "convnet", "reference_openvino", "openvino_gates"):
        assert importlib.util.find_spec(f"fastdet.bench.{name}") is None


def test_clients_report_and_plot(model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, png = tmp_path / "c.json", tmp_path / "c.png"
    args = ["bench", str(model), "--clients", "1,3", "--requests", "4", "--rounds", "2", "--warmup", "0",
            "--frames", "320x240", "--json", str(out), "--no-progress"]
    try:
        import matplotlib  # noqa: F401

        args += ["--plot", str(png)]
    except ImportError:
        png = None
    assert main(args) == 0
    report = json.loads(out.read_text())
    cells = [(r["mode"], r["clients"], r["requests"]) for r in report["results"]]
    assert cells == [(m, c, 2 * 4 * c) for m in ("shared", "per-thread", "batching") for c in (1, 3)]
    for r in report["results"]:
        assert r["throughput_fps"] > 0 and r["latency_ms"]["p99"] >= r["latency_ms"]["p50"] > 0
    assert all(r["mean_batch"] >= 1 for r in report["results"] if r["mode"] == "batching")
    assert "mean batch" in capsys.readouterr().out
    if png is not None:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["bench", str(model), "--clients", "0"]) == 2
    assert main(["bench", str(model), "--clients", "2", "--modes", "shared,fast"]) == 2
