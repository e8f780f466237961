"""The model registry (versions, hashes, lineage, champion history, private files) and promotion of
a challenger on validation data only."""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pytest

import fastdet
from fastdet.cli import main
from fastdet.quality.promote import Policy, decide, promote
from fastdet.quality.registry import Registry
from tiny_datasets import NAMES, many_images, two_images
from tiny_models import model_with_external_data, yolov8_like

BOXES = np.array([[16, 32, 16, 16], [48, 32, 8, 8]], np.float32)


@pytest.fixture()
def models(tmp_path):
    """weak finds the person of image a only as a loose box; strong finds it exactly."""
    weak = yolov8_like(tmp_path / "weak.onnx", np.array([[20, 32, 16, 16], [48, 32, 8, 8]], np.float32),
                       np.array([[0.9, 0.0], [0.0, 0.8]]), metadata={"names": repr(NAMES)})
    strong = yolov8_like(tmp_path / "strong.onnx", BOXES, np.array([[0.9, 0.0], [0.0, 0.8]]),
                         metadata={"names": repr(NAMES)})
    return weak, strong


def test_add_list_show_and_files(tmp_path, models, capsys, monkeypatch):
    weak, strong = models
    monkeypatch.setenv("FASTDET_REGISTRY", str(tmp_path / "reg"))
    assert main(["registry", "add", "ped", str(weak), "--note", "first"]) == 0
    assert main(["registry", "add", "ped", str(strong), "--parent", "v1"]) == 0
    assert main(["registry", "add", "ped", str(strong), "--version", "v1"]) == 2
    assert main(["registry", "add", "ped", str(strong), "--parent", "v9"]) == 2
    assert main(["registry", "add", "../x", str(strong)]) == 2
    capsys.readouterr()
    assert main(["registry", "list"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[0].startswith("* ped v1") and "<- v1" in listing[1]
    assert main(["registry", "show", "ped"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["champion"]["version"] == "v1" and shown["versions"] == ["v1", "v2"]
    assert shown["champion"]["history"][0]["reason"] == "first version"
    reg = Registry()
    v2 = reg.version("ped", "v2")
    assert v2["parent"] == "v1" and len(v2["sha256"]) == 64 and v2["file"] == "model.onnx"
    path = reg.model_path("ped", "v2")
    assert path.read_bytes() == strong.read_bytes()
    assert reg.model_path("ped") == reg.root / "ped" / "versions" / "v1" / "model.onnx"
    # Private: folders 0700, files 0600; a file changed behind the registry's back is refused.
    assert stat.S_IMODE(os.stat(reg.root).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    os.chmod(path, 0o666)
    with pytest.raises(fastdet.UnsafeCacheError, match="writable by group or others"):
        reg.model_path("ped", "v2")
    os.chmod(path, 0o600)
    path.write_bytes(weak.read_bytes())
    with pytest.raises(fastdet.ModelError, match="changed after it was added"):
        reg.model_path("ped", "v2")
    with pytest.raises(fastdet.InputError, match="no version 'v7'"):
        reg.version("ped", "v7")


def test_decide_rules():
    def report(ap, ms):
        return {"metrics": {"person_ap50_95": ap, "map50_95": ap}, "latency_ms": {"p50_ms": ms}}

    assert decide(report(0.50, 10), report(0.51, 10), Policy())[0]
    ok, why = decide(report(0.50, 10), report(0.503, 10), Policy())
    assert not ok and "below the margin 0.005" in why
    ok, why = decide(report(0.50, 10), report(0.60, 13), Policy())
    assert not ok and "1.30x the champion's" in why
    assert decide(report(0.50, 10), report(0.60, 13), Policy(max_slowdown=None))[0]
    ok, why = decide(report(0.50, 10), report(0.60, 9), Policy(budget_ms=8))
    assert not ok and "exceeds the budget 8 ms" in why
    with pytest.raises(fastdet.InputError, match="no ground truth for person_ap50_95"):
        decide(report(None, 10), report(None, 10), Policy())
    with pytest.raises(fastdet.InputError, match="metric"):
        Policy(metric="accuracy")


@pytest.mark.usefixtures("cpu_backend")
def test_promote(tmp_path, models, capsys):
    weak, strong = models
    data = two_images(tmp_path / "d")
    many_images(data, 12)
    # Image a holds the boxes that tell the models apart: a seed that puts it in val.
    for seed in range(100):
        assert main(["split", str(data), "--seed", str(seed), "--ratios", "50,25,25", "--force"]) == 0
        if "images/a.png" in (data / "val.txt").read_text():
            break
    reg = Registry(tmp_path / "reg")
    reg.add("ped", weak)
    reg.add("ped", strong, parent="v1")
    reg.add("ped", weak, version="v3", note="same as v1")
    val = str(data / "val.txt")
    # Never on the test split, whichever way it is reached.
    for bad in (str(data / "test.txt"), str(data)):
        with pytest.raises(fastdet.InputError, match="sealed test split"):
            promote(reg, "ped", "v2", bad, policy=Policy(max_slowdown=None))
    with pytest.raises(fastdet.InputError, match="never on the test split"):
        promote(reg, "ped", "v2", str(data / "data.yaml"), split="test", policy=Policy())
    policy = Policy(max_slowdown=None)
    same = promote(reg, "ped", "v3", val, policy=policy)
    assert not same["promoted"] and "below the margin" in same["reason"]
    won = promote(reg, "ped", "v2", val, policy=policy)
    assert won["promoted"], won["reason"]
    assert won["challenger"]["metrics"]["person_ap50_95"] > won["champion"]["metrics"]["person_ap50_95"]
    champ = reg.champion("ped")
    assert champ["version"] == "v2" and [h["version"] for h in champ["history"]] == ["v1", "v2"]
    assert champ["history"][1]["decision"] == won["file"]
    assert len(reg.decisions("ped")) == 2 and len(reg.evals("ped", "v2")) == 1
    with pytest.raises(fastdet.InputError, match="already is the champion"):
        promote(reg, "ped", "v2", val, policy=policy)
    assert main(["promote", "ped", "--challenger", "v1", "--data", val, "--root", str(reg.root),
                 "--max-slowdown", "0"]) == 0
    out = capsys.readouterr().out
    assert "kept the champion" in out and "decision written to ped/decisions/" in out


def test_add_refuses_an_onnx_whose_weights_live_elsewhere(tmp_path):
    """A version must be the whole model: an ONNX file naming external weight files would be
    copied without them (and hashed without them)."""
    weights = np.ones(16, np.float32).tobytes()
    (tmp_path / "w.bin").write_bytes(weights)
    model = model_with_external_data(tmp_path / "split.onnx", "w.bin", weights)
    registry = Registry(tmp_path / "reg")
    with pytest.raises(fastdet.InputError, match="keeps its weights in separate files"):
        registry.add("ped", model)
    assert registry.versions("ped") == []
