"""The quality commands check their arguments before any work: an empty data path, output paths
that could not be written, options that would be ignored, numbers out of range (argparse's float
takes nan and inf), files that are not models, eval reports of another model, unknown registry
names. Each is one ``fastdet: error:`` line and exit 2, with nothing written."""

from __future__ import annotations

import json
import os
import re

import numpy as np
import pytest

import fastdet
from fastdet.cli import main
from tiny_datasets import NAMES, two_images
from tiny_models import not_a_detector, yolov8_like

BACKEND = ["--backend", "onnxruntime-cpu"]


def _model(folder, name="m.onnx", boxes=((16, 32, 16, 16), (48, 32, 8, 8))):
    return yolov8_like(folder / name, np.array(boxes, np.float32), np.array([[0.9, 0.0], [0.0, 0.8]]),
                       metadata={"names": repr(NAMES)})


def _error(capsys, *words):
    """The one error line of the last command, checked to name ``words``."""
    _, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if not line.startswith(("WARNING", "INFO"))]
    assert len(lines) == 1 and lines[0].startswith("fastdet: error: "), err
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


@pytest.fixture()
def no_work(monkeypatch):
    """Makes loading a model or evaluating one fail loudly: a check must stop the command first."""
    from fastdet import detector
    from fastdet.quality import evaluation, sweep

    def boom(*args, **kwargs):
        raise RuntimeError("the command started its work before checking its arguments")

    monkeypatch.setattr(evaluation, "evaluate_model", boom)
    monkeypatch.setattr(sweep, "run_sweep", boom)
    monkeypatch.setattr(detector, "Detector", boom)


# ------------------------------------------------------------------------------------ 1. data


@pytest.mark.parametrize("blank", ["", "  "])
def test_an_empty_data_path_is_not_the_current_folder(tmp_path, monkeypatch, capsys, blank):
    data = two_images(tmp_path / "d")
    m = str(_model(tmp_path))
    monkeypatch.chdir(data)  # the folder "" would name: a dataset the commands could use
    monkeypatch.setenv("FASTDET_REGISTRY", str(tmp_path / "reg"))
    before = sorted(p.name for p in data.iterdir())
    for argv in (["split", blank, "--seed", "1"], ["eval", m, blank, *BACKEND],
                 ["profile", blank, "-o", str(tmp_path / "p.json"), "--model", m],
                 ["compare", m, m, "--data", blank, *BACKEND],
                 ["promote", "ped", "--challenger", "v2", "--data", blank],
                 ["eval", m, str(tmp_path / "c.json"), "--images", blank]):
        assert main(argv) == 2, argv
        _error(capsys, "an empty path")
    assert sorted(p.name for p in data.iterdir()) == before  # no train.txt, data.yaml, split.json ...
    assert not (tmp_path / "p.json").exists()


def test_library_readers_refuse_an_empty_path():
    from fastdet.quality.data_source import resolve
    from fastdet.quality.yolo_data import list_images

    for call in (lambda: list_images(""), lambda: resolve(""), lambda: resolve(" \t")):
        with pytest.raises(fastdet.InputError, match="empty path"):
            call()


# ----------------------------------------------------------------------------- 2. output paths


def test_output_paths_are_checked_before_any_work(tmp_path, capsys, no_work):
    data = str(two_images(tmp_path / "d"))
    m = str(_model(tmp_path))
    a_file = tmp_path / "a_file.txt"
    a_file.write_text("keep")
    cases = [
        (["eval", m, data, "--report", str(tmp_path / "nodir" / "r.json")], ["--report", "no such folder"]),
        (["eval", m, data, "--report", str(tmp_path)], ["--report", "is a folder"]),
        (["eval", m, data, "--report", ""], ["--report", "empty"]),
        (["eval", m, data, "--save-coco", str(a_file)], ["--save-coco", "is a file"]),
        (["eval", m, data, "--plot", str(a_file)], ["--plot", "is a file"]),
        (["eval", m, data, "--plot", str(a_file / "below")], ["--plot", "is a file"]),
        (["profile", data, "-o", str(tmp_path / "nodir" / "p.json"), "--model", m], ["--out", "no such folder"]),
        (["profile", data, "-o", str(tmp_path), "--model", m], ["--out", "is a folder"]),
        (["split", data, "--seed", "1", "--out", str(a_file)], ["--out", "is a file"]),
    ]
    for argv, words in cases:
        assert main(argv) == 2, argv
        _error(capsys, *words)
    assert a_file.read_text() == "keep" and not (tmp_path / "nodir").exists()
    assert not (tmp_path / "d" / "split.json").exists()


def test_outputs_that_can_be_written_are(tmp_path, capsys):
    data = str(two_images(tmp_path / "d"))
    m = str(_model(tmp_path))
    coco = tmp_path / "new" / "coco"  # folders an option names are created, parents too
    report = tmp_path / "r.json"
    assert main(["eval", m, data, *BACKEND, "--report", str(report), "--save-coco", str(coco)]) == 0
    assert "mAP50-95" in capsys.readouterr().out  # the table is printed as well
    assert json.loads(report.read_text())["model"]["sha256"]
    assert sorted(p.name for p in coco.iterdir()) == ["ground_truth.json", "predictions.json"]


# ---------------------------------------------------------------------- 3. and 7. ignored options


@pytest.mark.parametrize("extra, flag", [
    (["--sizes", "64", "--report", "r.json"], "--report"),
    (["--sizes", "64", "--plot", "plots"], "--plot"),
    (["--sizes", "64", "--save-coco", "coco"], "--save-coco"),
    (["--address", "ray://x:10001"], "--address"),
    (["--actors", "2"], "--actors"),
    (["--cpus-per-actor", "2"], "--cpus-per-actor"),
    (["--batch-size", "4"], "--batch-size"),
    (["--sizes", "64", "--actors", "2"], "--actors"),
    (["--metric", "map50"], "--metric"),
    (["--metric", "map50_95"], "--metric"),  # given at its default value: still ignored, still refused
    (["--sizes", "64", "--metric", "person_ap50"], "--metric"),
    (["--sizes", "64", "--json", "--metric", "map50"], "--metric"),
])
def test_eval_refuses_options_it_would_ignore(tmp_path, monkeypatch, capsys, no_work, extra, flag):
    monkeypatch.chdir(tmp_path)
    data = str(two_images(tmp_path / "d"))
    assert main(["eval", str(_model(tmp_path)), data, *extra]) == 2
    _error(capsys, flag)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d", "m.onnx"]


def test_eval_metric_says_it_goes_with_budget_ms(tmp_path, capsys, no_work):
    data = str(two_images(tmp_path / "d"))
    assert main(["eval", str(_model(tmp_path)), data, "--sizes", "64", "--metric", "map50"]) == 2
    _error(capsys, "--metric map50", "goes with --budget-ms")


@pytest.mark.parametrize("extra, metric", [([], "map50_95"), (["--metric", "person_ap50"], "person_ap50")])
def test_eval_metric_with_budget_ms_reaches_the_sweep(tmp_path, monkeypatch, capsys, extra, metric):
    from fastdet.quality import sweep

    chosen = []
    monkeypatch.setattr(sweep, "run_sweep", lambda *args, **kwargs: [])
    monkeypatch.setattr(sweep, "best_within", lambda rows, budget_ms, metric: chosen.append(metric))
    data = str(two_images(tmp_path / "d"))
    assert main(["eval", str(_model(tmp_path)), data, "--sizes", "64", "--budget-ms", "5", "--json", *extra]) == 0
    assert chosen == [metric]
    assert json.loads(capsys.readouterr().out)["budget_ms"] == 5


# ------------------------------------------------------------------------------------ 6. numbers


@pytest.mark.parametrize("command, flag, value", [
    ("compare", "--match-iou", "5"), ("compare", "--match-iou", "nan"), ("compare", "--match-iou", "-1"),
    ("compare", "--match-iou", "0"), ("compare", "--max-score-diff", "inf"), ("compare", "--conf", "nan"),
    ("compare", "--iou", "1.5"),
    ("sweep", "--budget-ms", "nan"), ("sweep", "--budget-ms", "-3"), ("sweep", "--budget-ms", "0"),
    ("sweep", "--budget-ms", "inf"), ("sweep", "--conf", "nan"), ("sweep", "--iou", "-0.5"),
    ("eval", "--conf", "inf"), ("eval", "--coco-max-dets", "0"),
    ("ray", "--cpus-per-actor", "nan"), ("ray", "--cpus-per-actor", "0"), ("ray", "--actors", "0"),
    ("profile", "--conf", "nan"),
])
def test_numbers_out_of_range(tmp_path, capsys, no_work, command, flag, value):
    data = str(two_images(tmp_path / "d"))
    m = str(_model(tmp_path))
    argv = {"compare": ["compare", m, m, "--data", data, *BACKEND],
            "sweep": ["eval", m, data, "--sizes", "64", "--json"],
            "eval": ["eval", m, data],
            "ray": ["eval", m, data, "--ray"],
            "profile": ["profile", data, "-o", str(tmp_path / "p.json"), "--model", m]}[command]
    assert main([*argv, flag, value]) == 2
    _error(capsys, flag)


def test_match_iou_in_range_still_works(tmp_path, capsys):
    data = str(two_images(tmp_path / "d"))
    m = str(_model(tmp_path))
    assert main(["compare", m, m, "--data", data, *BACKEND, "--match-iou", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["agreement"] == 1.0


def test_agreement_refuses_a_match_iou_out_of_range():
    from fastdet.quality.compare import Agreement

    for iou in (0, 5, float("nan"), -1, True):
        with pytest.raises(fastdet.InputError, match="match IoU"):
            Agreement().add(None, None, iou)


def test_finite_helper():
    from fastdet.cli_arguments import finite

    assert finite(None, "--x") is None and finite(1, "--x", 0, 1) == 1.0
    assert finite(0, "--x", 0) == 0.0
    for value, bounds in ((float("nan"), {}), (float("inf"), {}), (0, {"low": 0, "low_open": True}),
                          (1, {"high": 1, "high_open": True}), (2, {"low": 0, "high": 1}), (True, {})):
        with pytest.raises(fastdet.InputError, match="--x: expected a finite number"):
            finite(value, "--x", **bounds)


# ----------------------------------------------------------------------------------- 8. help


def test_eval_plot_help_says_when_the_person_curve_is_written(capsys):
    with pytest.raises(SystemExit):
        main(["eval", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert re.search(r"pr_person\.png when the model has a class named person", text), text


# ---------------------------------------------------------------------------------- 4. registry


def test_registry_add_refuses_what_is_not_a_model(tmp_path, monkeypatch, capsys):
    from fastdet.quality.registry import Registry

    monkeypatch.setenv("FASTDET_REGISTRY", str(tmp_path / "reg"))
    jpg = tmp_path / "bus.jpg"
    jpg.write_bytes(b"\xff\xd8\xff\xe0 a jpeg")
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not a protobuf at all")
    xml = tmp_path / "ir" / "model.xml"
    xml.parent.mkdir()
    xml.write_text("<net/>")
    (xml.parent / "model.bin").write_bytes(b"\0" * 8)
    empty_folder = tmp_path / "empty"
    empty_folder.mkdir()
    cases = [(jpg, "not a model"), (garbage, "not a detector fastdet can load"),
             (not_a_detector(tmp_path / "classifier.onnx"), "not a detector fastdet can load"),
             (xml, "without its weights"), (empty_folder, "not a detector fastdet can load"), ("", "empty")]
    for path, words in cases:
        assert main(["registry", "add", "ped", str(path)]) == 2, path
        _error(capsys, words)
    assert Registry().versions("ped") == []
    assert not (tmp_path / "reg" / "ped" / "versions").exists()


def test_registry_add_accepts_an_openvino_export_folder(tmp_path, monkeypatch):
    ov = pytest.importorskip("openvino")
    from fastdet.backends.openvino_model import write_ir
    from fastdet.quality.registry import Registry

    folder = tmp_path / "m_openvino_model"
    write_ir(ov.convert_model(str(_model(tmp_path))), folder, {"names": repr(NAMES), "imgsz": "[64, 64]"})
    monkeypatch.setenv("FASTDET_REGISTRY", str(tmp_path / "reg"))
    assert main(["registry", "add", "ped", str(folder)]) == 0
    assert Registry().model_path("ped").is_dir()


def test_registry_add_refuses_an_eval_report_of_another_model(tmp_path, monkeypatch, capsys):
    from fastdet.quality.registry import Registry

    data = str(two_images(tmp_path / "d"))
    mine = _model(tmp_path)
    other = _model(tmp_path, "other.onnx", boxes=((20, 32, 16, 16), (48, 32, 8, 8)))
    for model, name in ((mine, "mine.json"), (other, "other.json")):
        assert main(["eval", str(model), data, *BACKEND, "--report", str(tmp_path / name), "--json"]) == 0
    capsys.readouterr()
    monkeypatch.setenv("FASTDET_REGISTRY", str(tmp_path / "reg"))
    assert main(["registry", "add", "ped", str(mine), "--eval", str(tmp_path / "other.json")]) == 2
    _error(capsys, "another model", "other.onnx")
    assert Registry().versions("ped") == []
    assert main(["registry", "add", "ped", str(mine), "--eval", str(tmp_path / "mine.json")]) == 0
    reg = Registry()
    assert len(reg.evals("ped", "v1")) == 1
    with pytest.raises(fastdet.InputError, match="another model"):
        reg.add_eval("ped", "v1", json.loads((tmp_path / "other.json").read_text()))
    assert len(reg.evals("ped", "v1")) == 1


# ------------------------------------------------------------------------------ 5. registry names


def test_registry_unknown_names_and_a_root_that_is_a_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FASTDET_REGISTRY", str(tmp_path / "reg"))
    assert main(["registry", "add", "ped", str(_model(tmp_path))]) == 0
    capsys.readouterr()
    for argv in (["registry", "list", "nosuch"], ["registry", "show", "nosuch"],
                 ["registry", "show", "nosuch", "v1"]):
        assert main(argv) == 2, argv
        _error(capsys, "no model named 'nosuch'", "ped")
    assert main(["registry", "list", "ped"]) == 0 and "ped v1" in capsys.readouterr().out
    assert main(["registry", "show", "ped"]) == 0 and json.loads(capsys.readouterr().out)["versions"] == ["v1"]
    # show always prints JSON: it has no --json flag that would do nothing.
    with pytest.raises(SystemExit) as e:
        main(["registry", "show", "ped", "--json"])
    assert e.value.code == 2
    capsys.readouterr()
    a_file = tmp_path / "m.onnx"
    for argv in (["registry", "--root", str(a_file), "list"], ["registry", "--root", "", "list"]):
        assert main(argv) == 2, argv
        _error(capsys, "--root" if argv[2] == "" else "is a file")
    assert os.path.isfile(a_file)
