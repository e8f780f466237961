"""`fastdet detect` on videos, streams and folders: the JSONL, CSV and YOLO-txt formats the README
documents, annotated video, and failures reported without losing what was already written."""

from __future__ import annotations

import csv
import io
import json

import cv2
import numpy as np
import pytest

from fastdet.cli import main
from load_frames import load_model
from videos import VideoServer, decoded_frames, grey_frames, write_video

N = 10


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return str(load_model(tmp_path_factory.mktemp("cli") / "m.onnx"))


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return write_video(tmp_path_factory.mktemp("v") / "clip.avi", grey_frames(N))


def jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def test_jsonl_one_object_per_frame(model, video, capsys, cpu_backend):
    import fastdet

    assert main(["detect", str(video), "--model", model, "--jsonl"]) == 0
    out, err = capsys.readouterr()
    records = jsonl(out)
    assert [r["frame"] for r in records] == list(range(N))
    assert [r["timestamp_ms"] for r in records] == [100.0 * i for i in range(N)]
    first = records[0]
    assert list(first) == ["source", "frame", "timestamp_ms", "width", "height", "detections"]
    assert first["source"] == str(video) and (first["width"], first["height"]) == (64, 48)
    box = first["detections"][0]
    assert list(box) == ["box", "score", "class_id", "name"] and box["name"] == "person"
    expected = fastdet.Detector(model).detect(decoded_frames(video)[0])
    assert box["box"] == [round(float(v), 4) for v in expected.xyxy[0]]
    assert box["score"] == round(float(expected.scores[0]), 4)
    assert f"{video}: {N} frames" in err and "frames/s" in err  # the summary goes to stderr


def test_csv_rows_and_yolo_txt(model, video, tmp_path, capsys):
    import fastdet

    det = fastdet.Detector(model)
    boxes = [len(det.detect(f)) for f in decoded_frames(video)]
    labels = tmp_path / "labels"
    assert main(["detect", str(video), "--model", model, "--csv", "--txt", str(labels), "--txt-conf"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0] == ["source", "frame", "timestamp_ms", "x1", "y1", "x2", "y2", "score", "class_id", "name"]
    assert len(rows) == 1 + sum(boxes) and max(boxes) == 2  # one row per box
    assert rows[1][:3] == [str(video), "0", "0.0"] and rows[1][8:] == ["0", "person"]
    files = sorted(p.name for p in labels.iterdir())
    assert files == [f"clip_{i:06d}.txt" for i in range(N)]  # a file per frame, empty ones too
    lines = (labels / "clip_000009.txt").read_text().splitlines()
    assert len(lines) == boxes[9]
    cls, cx, cy, w, h, conf = lines[0].split()
    last_frame = [r for r in rows[1:] if r[1] == "9"]
    assert cls == "0" and all(0 <= float(v) <= 1 for v in (cx, cy, w, h))
    assert float(conf) == pytest.approx(float(last_frame[0][7]), abs=1e-4)


def test_images_give_one_label_file_each_and_null_timestamps(model, tmp_path, capsys):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i, f in enumerate(grey_frames(2)):
        cv2.imwrite(str(folder / f"im{i}.png"), f)
    labels = tmp_path / "labels"
    assert main(["detect", str(folder), "--model", model, "--jsonl", "--txt", str(labels)]) == 0
    records = jsonl(capsys.readouterr().out)
    assert [(r["frame"], r["timestamp_ms"]) for r in records] == [(0, None), (0, None)]
    assert sorted(p.name for p in labels.iterdir()) == ["im0.txt", "im1.txt"]
    assert len((labels / "im0.txt").read_text().split("\n")[0].split()) == 5  # no conf without --txt-conf


def test_save_annotated_video(model, video, tmp_path, capsys):
    out = tmp_path / "out.mp4"
    assert main(["detect", str(video), "--model", model, "--save", str(out)]) == 0
    frames = decoded_frames(out)
    assert len(frames) == N and frames[0].shape == (48, 64, 3)
    assert "annotated video saved to" in capsys.readouterr().out
    folder = tmp_path / "folder"  # a folder: videos become <stem>.mp4 in it
    assert main(["detect", str(video), "--model", model, "--save", str(folder)]) == 0
    assert len(decoded_frames(folder / "clip.mp4")) == N
    assert main(["detect", str(video), str(video), "--model", model, "--save", str(out)]) == 2
    assert "holds one video" in capsys.readouterr().err



def test_an_annotated_video_that_cannot_be_written_is_an_error_of_save(model, video, tmp_path, capsys):
    """A --save that cannot be written is reported as --save's error (not the source's), once,
    and the run fails."""
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    out = blocker / "out.mp4"
    assert main(["detect", str(video), "--model", model, "--save", str(out)]) == 1
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("fastdet: error:")]
    assert errors == [errors[0]] and errors[0].startswith(f"fastdet: error: --save {str(out)!r}: "), err
    assert "Traceback" not in err

def test_folder_with_a_bad_video_reports_it_and_processes_the_rest(model, video, tmp_path, capsys):
    folder = tmp_path / "mixed"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), grey_frames(1)[0])
    (folder / "b.mp4").write_bytes(b"not a video" * 50)
    (folder / "c.avi").write_bytes(video.read_bytes())
    assert main(["detect", str(folder), "--model", model, "--jsonl"]) == 1
    out, err = capsys.readouterr()
    assert [(r["source"].rsplit("/", 1)[-1], r["frame"]) for r in jsonl(out)] == [("a.png", 0)] + [
        ("c.avi", i) for i in range(N)]
    assert "b.mp4" in err and "cannot open" in err and "1 of 3 inputs failed" in err and "Traceback" not in err


def test_stream_that_closes_keeps_every_line_before_it(model, video, capsys):
    server = VideoServer(video, passes=1)
    try:
        code = main(["detect", server.url, "--model", model, "--jsonl", "--live", "no", "--reconnect", "0.3"])
    finally:
        server.close()
    out, err = capsys.readouterr()
    assert code == 1
    assert [r["frame"] for r in jsonl(out)] == list(range(N))
    assert f"the stream closed after {N} frames and did not come back" in err


def test_conflicting_outputs_are_one_line(model, video, capsys):
    assert main(["detect", str(video), "--model", model, "--jsonl", "--csv"]) == 2
    assert "both print to stdout" in capsys.readouterr().err
    assert main(["detect", str(video), "--model", model, "--txt-conf"]) == 2
    assert "--txt-conf goes with --txt" in capsys.readouterr().err


@pytest.mark.assets
def test_pets2009_streams_795_lines_with_people(assets, capsys):
    """The issue's command: every frame of the PETS 2009 clip, people in them."""
    video = assets / "videos" / "pets2009_s2l1.avi"
    assert main(["detect", str(video), "--model", str(assets / "models" / "yolov8n_w8.onnx"), "--jsonl"]) == 0
    records = jsonl(capsys.readouterr().out)
    assert [r["frame"] for r in records] == list(range(795))
    people = [sum(d["name"] == "person" for d in r["detections"]) for r in records]
    assert min(people) >= 1 and np.mean(people) > 4  # 3-8 pedestrians on the path
    stamps = [r["timestamp_ms"] for r in records]
    assert all(b > a for a, b in zip(stamps, stamps[1:]))
