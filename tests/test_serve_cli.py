"""``fastdet serve``: the settings it would use (--dry-run), a new API key, and a real `mlserver
start` it runs until SIGTERM, answering a POST with the boxes Detector.detect finds."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

import fastdet
from fastdet.cli import main
from tiny_models import yolov8_like

NAMES = {"names": "{0: 'person', 1: 'car'}"}


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    boxes = np.array([[20, 20, 16, 16], [44, 40, 10, 12]], np.float32)
    weights = np.array([[0.9, 0.0], [0.0, 0.7]], np.float32)
    return yolov8_like(tmp_path_factory.mktemp("m") / "tiny.onnx", boxes, weights, metadata=NAMES)


def test_dry_run_prints_the_settings(model, capsys):
    assert main(["serve", str(model), "--dry-run", "--port", "9100", "--grpc-port", "9101", "--workers", "2",
                 "--batch-size", "4", "--conf", "0.3", "--classes", "person,1"]) == 0
    files = json.loads(capsys.readouterr().out)
    server, router, detector = files["settings.json"], files["tiny/model-settings.json"], \
        files["tiny-detector/model-settings.json"]
    assert (server["http_port"], server["grpc_port"], server["parallel_workers"]) == (9100, 9101, 2)
    assert router["implementation"] == "fastdet.serving.FastdetRouter" and router["parallel_workers"] == 0
    assert router["parameters"]["extra"] == {"detector": "tiny-detector", "upstream": "127.0.0.1:9101"}
    assert detector["implementation"] == "fastdet.serving.FastdetRuntime"
    assert detector["parameters"]["uri"] == str(model.resolve())
    assert detector["parameters"]["extra"]["conf"] == 0.3 and detector["parameters"]["extra"]["classes"] == ["person", 1]
    assert (detector["max_batch_size"], detector["max_batch_time"]) == (4, 0.005)


def test_new_key_and_bad_inputs_are_one_line(capsys, tmp_path):
    assert main(["serve", "--new-key"]) == 0
    out = capsys.readouterr().out
    key = out.split()[1]
    from fastdet.serving.keys import key_sha256

    assert key_sha256(key) in out
    (tmp_path / "p.toml").write_text("[clients.a]\nmodels = ['m']\n")
    assert main(["serve", "x.onnx", "--policy", str(tmp_path / "p.toml"), "--dry-run"]) == 2
    assert "key_sha256 is missing" in capsys.readouterr().err
    assert main(["serve", "no-such-line", "--registry", str(tmp_path / "reg"), "--dry-run"]) == 2
    assert "neither a model file nor a model line" in capsys.readouterr().err


@pytest.mark.serve
def test_serve_answers_with_boxes_and_stops_cleanly(model, tmp_path):
    pytest.importorskip("mlserver")
    if fastdet._core.sanitized:
        pytest.skip("the sanitizer run checks native code; servers are tested in the regular run")
    from mlserver_process import MLServerProcess, free_ports, http, infer_json

    port, grpc_port, metrics_port = free_ports(3)
    cmd = [sys.executable, "-m", "fastdet", "serve", str(model), "--port", str(port), "--grpc-port", str(grpc_port),
           "--metrics-port", str(metrics_port), "--workers", "0", "--conf", "0.1"]
    server = MLServerProcess(cmd, port, tmp_path / "serve.log").start()
    try:
        server.wait_ready(["tiny", "tiny-detector"])
        image = cv2.imencode(".png", np.full((40, 60, 3), 250, np.uint8))[1].tobytes()
        status, _, raw = http("POST", f"{server.url}/v2/models/tiny/infer", infer_json(image),
                              {"content-type": "application/json"})
        assert status == 200, raw
        out = {o["name"]: o for o in json.loads(raw)["outputs"]}
        want = fastdet.Detector(model, conf=0.1).detect(cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_COLOR))
        np.testing.assert_array_equal(np.asarray(out["boxes"]["data"], np.float32).reshape(-1, 4), want.xyxy)
        assert out["names"]["data"] == [want.name(c) for c in want.class_ids]
        run_dir = Path(server.log().split("settings in ")[1].split()[0])
        assert (run_dir / "settings.json").is_file()
    finally:
        code = server.stop()
    assert code == 0, server.log()[-3000:]
    assert not run_dir.exists()  # the temporary settings folder is removed
