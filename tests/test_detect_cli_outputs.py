"""`fastdet detect` never destroys what it was not asked to write: outputs that would overwrite an
input or each other are refused, nothing is truncated before every check and the model load
have passed, and a reader that leaves the pipe stops the run quietly."""

from __future__ import annotations

import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

import fastdet
from fastdet.cli import main
from load_frames import load_model
from videos import grey_frames, write_video


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return str(load_model(tmp_path_factory.mktemp("out") / "m.onnx"))


@pytest.fixture()
def photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(2):
        cv2.imwrite(str(folder / f"p{i}.jpg"), np.full((40, 60, 3), 200, np.uint8))
    return folder


def bytes_of(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def test_a_flag_that_takes_an_image_as_its_file_is_refused(model, photos, capsys):
    before = bytes_of(photos)
    for flag in ("--jsonl", "--csv"):
        args = ["detect", flag, str(photos / "p0.jpg"), str(photos / "p1.jpg"), "--model", model]
        assert main(args) == 2
        assert "not an output file" in error_line(capsys)
    assert bytes_of(photos) == before


def test_outputs_that_are_inputs_or_each_other_are_refused(model, photos, tmp_path, capsys):
    before = bytes_of(photos)
    assert main(["detect", str(photos), "--model", model, "--save", str(photos)]) == 2
    assert "holds inputs" in error_line(capsys)
    video = write_video(tmp_path / "v.avi", grey_frames(4))
    video_bytes = video.read_bytes()
    assert main(["detect", str(video), "--model", model, "--save", str(video)]) == 2
    assert "is one of the inputs" in error_line(capsys)
    assert video.read_bytes() == video_bytes
    same = tmp_path / "same.txt"
    assert main(["detect", str(photos), "--model", model, "--jsonl", str(same), "--csv", str(same)]) == 2
    assert "writes the same file" in error_line(capsys)
    assert not same.exists() and bytes_of(photos) == before


def test_nothing_is_truncated_when_the_arguments_or_the_model_fail(model, photos, tmp_path, capsys):
    keep = tmp_path / "keep.jsonl"
    keep.write_text("an earlier run\n")
    bad_model = ["detect", str(photos), "--jsonl", str(keep), "--model", str(tmp_path / "missing.onnx")]
    assert main(bad_model) == 2
    bad_conf = ["detect", str(photos), "--csv", str(keep), "--model", model, "--conf", "5"]
    assert main(bad_conf) == 2
    assert keep.read_text() == "an earlier run\n"
    assert main(["detect", str(photos), "--model", model, "--csv", "--json"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "both print to stdout" in err
    labels = tmp_path / "labels"
    assert main(["detect", str(photos), "--txt", str(labels), "--model", str(tmp_path / "missing.onnx")]) == 2
    assert not labels.exists()  # no folder made for a run that never started


def test_an_empty_source_is_not_the_current_folder(model, photos, capsys, monkeypatch):
    monkeypatch.chdir(photos)
    assert main(["detect", "", "--model", model, "--jsonl"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "empty path" in err


def test_a_video_format_the_writer_lacks_and_ray_options_without_ray_are_refused_up_front(model, tmp_path, capsys):
    video = write_video(tmp_path / "v.avi", grey_frames(4))
    assert main(["detect", str(video), "--model", model, "--save", str(tmp_path / "o.webm")]) == 2
    assert ".mp4" in error_line(capsys)
    assert main(["detect", str(video), "--model", model, "--out", str(tmp_path / "x.parquet")]) == 2
    assert "--out goes with --ray" in error_line(capsys)
    assert main(["detect", str(video), "--model", model, "--actors", "2"]) == 2
    assert "--actors goes with --ray" in error_line(capsys)


@pytest.mark.parametrize("kind", ["images", "video"])
def test_a_reader_that_leaves_the_pipe_stops_the_run_quietly(model, tmp_path, kind):
    """`fastdet detect ... --jsonl | head -1`: no error line, no input blamed, no traceback; the
    exit status is a SIGPIPE death's (141)."""
    if kind == "images":
        source = tmp_path / "many"
        source.mkdir()
        for i in range(5):
            cv2.imwrite(str(source / f"f{i:03d}.png"), np.full((40, 60, 3), 200, np.uint8))
    else:
        source = write_video(tmp_path / "clip.avi", grey_frames(5))
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "fastdet", "detect", str(source), "--model", model, "--jsonl"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    proc.stdout.close()  # the reader leaves before the first line (as `head -1` does after it): no race
    _, err = proc.communicate(timeout=120)
    text = err.decode()
    assert proc.returncode == 141, text
    assert "error" not in text and "failed" not in text and "Traceback" not in text


def test_reconnect_times_and_save_names_that_cannot_be_meant(model, photos, tmp_path, capsys):
    assert main(["detect", "rtsp://127.0.0.1:9/x", "--model", model, "--reconnect", "nan"]) == 2
    assert "--reconnect" in error_line(capsys)
    from fastdet.io.live import LiveCapture

    with pytest.raises(fastdet.InputError, match="reconnect_s"):
        LiveCapture("rtsp://127.0.0.1:9/x", reconnect_s=float("nan"))
    assert main(["detect", str(photos / "p0.jpg"), "--model", model, "--save", str(tmp_path / "out.jpg")]) == 2
    assert "give a folder" in error_line(capsys)
    assert not (tmp_path / "out.jpg").exists()
    labels = tmp_path / "labels.txt"
    labels.write_text("x")
    assert main(["detect", str(photos), "--model", model, "--txt", str(labels)]) == 2
    assert "folder for the label files" in error_line(capsys)
