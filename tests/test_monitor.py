"""fastdet.Monitor: signals, PSI/KS against a reference profile, alerts (callback, log,
Prometheus), resolution alerts, the profile file and `fastdet profile`."""

from __future__ import annotations

import json
import logging

import cv2
import numpy as np
import pytest

import fastdet
from fastdet.cli import main
from fastdet.quality.drift_profile import Profile, build_profile
from fastdet.quality.drift_signals import image_signals
from fastdet.quality.drift_stats import bin_edges, distance, psi, shares
from fastdet.quality.monitor import Monitor, Threshold
from tiny_datasets import NAMES
from tiny_models import yolov8_like


def test_psi_and_ks():
    rng = np.random.default_rng(0)
    ref = rng.normal(100, 10, 5000)
    edges = bin_edges(ref)
    assert len(edges) == 9 and shares(ref, edges) == pytest.approx(np.full(10, 0.1), abs=1e-3)
    same = distance(rng.normal(100, 10, 300), ref, shares(ref, edges), edges)
    moved = distance(rng.normal(60, 10, 300), ref, shares(ref, edges), edges)
    assert same.psi < 0.1 and same.p_value > 1e-3
    assert moved.psi > 2 and moved.ks > 0.9 and moved.p_value < 1e-10
    flags = np.array([0.0] * 80 + [1.0] * 20)  # a discrete signal: one bin per value
    e = bin_edges(flags)
    assert psi(flags, shares(flags, e), e) == pytest.approx(0.0)
    assert psi(np.ones(50), shares(flags, e), e) > 1
    assert distance(np.zeros(0), ref, shares(ref, edges), edges).psi == 0.0


def test_image_signals():
    rng = np.random.default_rng(1)
    frame = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
    s = image_signals(frame)
    blurred = image_signals(cv2.GaussianBlur(frame, (0, 0), 3))
    dark = image_signals((frame * 0.3).astype(np.uint8))
    assert blurred["sharpness"] < s["sharpness"] / 10
    assert dark["brightness"] == pytest.approx(s["brightness"] * 0.3, rel=0.05) and dark["contrast"] < s["contrast"]


def _scene(rng, brightness=120.0, size=(96, 128)):
    return np.clip(rng.normal(brightness, 30, (*size, 3)), 0, 255).astype(np.uint8)


@pytest.fixture()
def detector(tmp_path):
    model = yolov8_like(tmp_path / "m.onnx", np.array([[32, 32, 16, 24], [12, 12, 6, 6]], np.float32),
                        np.array([[1.0, 0.0], [0.0, 0.6]]), metadata={"names": repr(NAMES)})
    return fastdet.Detector(model, backend="onnxruntime-cpu", conf=0.25)


def test_monitor_alerts_on_a_shift_only(detector, tmp_path, caplog):
    rng = np.random.default_rng(2)
    profile = build_profile(detector, (_scene(rng) for _ in range(400)), source="synthetic")
    path = profile.save(tmp_path / "ref.json")
    loaded = Profile.load(path)
    assert loaded.frames == 400 and loaded.resolutions == [(96, 128)] and loaded.input_size == (64, 64)
    assert loaded.person_class == 0 and loaded.conf == 0.25
    np.testing.assert_allclose(loaded.samples["brightness"], profile.samples["brightness"], atol=1e-6)

    seen = []
    monitor = fastdet.Monitor(path, window=100, check_every=20, on_alert=seen.append, metrics=False)
    for _ in range(600):  # the same distribution: no alert
        monitor.observe(f := _scene(rng), detector.detect(f))
    assert seen == [] and monitor.drifting == set()
    assert monitor.status()["brightness"].psi < 0.25
    watched = monitor.watch(detector)
    with caplog.at_level(logging.WARNING, logger="fastdet.monitor"):
        for i in range(200):  # darker: brightness and contrast drift, and the tiny model scores lower
            watched.detect(_scene(rng, brightness=40))
            if seen:
                break
    assert seen and seen[0].kind == "drift" and seen[0].signal in ("brightness", "contrast", "confidence")
    assert i < 100  # within a window of the change
    assert any("drifted: PSI" in r.message for r in caplog.records)
    assert watched.names == detector.names  # the wrapper passes the Detector through


def test_resolution_alerts(detector, tmp_path):
    rng = np.random.default_rng(3)
    profile = build_profile(detector, (_scene(rng) for _ in range(50)))
    seen = []
    monitor = Monitor(profile, training_size=(640, 640), window=50, on_alert=seen.append, metrics=False)
    monitor.observe(f := _scene(rng, size=(480, 640)), detector.detect(f))
    assert [a.kind for a in seen] == ["new_resolution"]  # 640 / 640 is the training size
    monitor.observe(f := _scene(rng, size=(120, 160)), detector.detect(f))
    assert [a.kind for a in seen[1:]] == ["new_resolution", "resolution_far_from_training"]
    assert "0.25x the model's training size 640x640" in seen[2].message
    monitor.observe(f := _scene(rng, size=(120, 160)), detector.detect(f))
    assert len(seen) == 3  # once per resolution


def test_observe_from_many_threads_and_bounded_memory():
    """One Monitor fed by several threads (a shared Detector's callers) counts every frame and
    never fails; alerts and remembered frame sizes stay bounded on a stream that keeps changing."""
    import threading
    from types import SimpleNamespace

    from fastdet.quality import monitor as monitor_module
    from fastdet.quality.drift_profile import profile_from_signals
    from fastdet.quality.drift_signals import frame_signals

    rng = np.random.default_rng(0)
    boxes = SimpleNamespace(xyxy=np.array([[1, 1, 9, 9], [2, 2, 20, 30]], np.float32),
                            scores=np.array([0.9, 0.8], np.float32), class_ids=np.zeros(2, np.int32))
    frames = [rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for _ in range(20)]
    profile = profile_from_signals([frame_signals(f, boxes.xyxy, boxes.scores, boxes.class_ids, 0) for f in frames],
                                   input_size=(64, 64), conf=0.25, person_class=0)
    monitor = Monitor(profile, window=20, check_every=1, min_frames=1, metrics=False)
    errors = []

    def feed():
        for i in range(200):
            try:
                monitor.observe(frames[i % 20], boxes)
            except Exception as e:  # noqa: BLE001 - any failure is the finding
                errors.append(repr(e))

    threads = [threading.Thread(target=feed) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and monitor.frames == 800
    empty = SimpleNamespace(xyxy=np.zeros((0, 4), np.float32), scores=np.zeros(0, np.float32),
                            class_ids=np.zeros(0, np.int32))
    changing = Monitor(profile, window=10, check_every=10**9, metrics=False)
    for i in range(2 * monitor_module.MAX_RESOLUTIONS):
        changing.observe(np.zeros((20 + i, 30, 3), np.uint8), empty)
    assert len(changing._state.resolutions) <= monitor_module.MAX_RESOLUTIONS + 1
    assert len(changing.alerts) <= monitor_module.MAX_ALERTS and changing.alerts_total > monitor_module.MAX_RESOLUTIONS


def test_prometheus_gauges(detector):
    prometheus_client = pytest.importorskip("prometheus_client")
    registry = prometheus_client.CollectorRegistry()
    rng = np.random.default_rng(4)
    profile = build_profile(detector, (_scene(rng) for _ in range(100)))
    monitor = Monitor(profile, window=40, check_every=10, registry=registry, name="cam1",
                      thresholds={"detections": None})
    for _ in range(60):
        monitor.observe(f := _scene(rng, brightness=30), detector.detect(f))
    value = registry.get_sample_value
    assert value("fastdet_monitor_frames_total", {"monitor": "cam1"}) == 60
    assert value("fastdet_drift_alert", {"monitor": "cam1", "signal": "brightness"}) == 1
    assert value("fastdet_drift_psi", {"monitor": "cam1", "signal": "brightness"}) > 1
    assert value("fastdet_drift_alerts_total", {"monitor": "cam1", "signal": "brightness"}) == 1
    assert value("fastdet_drift_psi", {"monitor": "cam1", "signal": "detections"}) is None  # turned off


def test_bad_arguments(detector, tmp_path):
    rng = np.random.default_rng(5)
    profile = build_profile(detector, (_scene(rng) for _ in range(10)))
    with pytest.raises(fastdet.InputError, match="unknown signals"):
        Monitor(profile, thresholds={"brightnes": Threshold(1.0)}, metrics=False)
    with pytest.raises(fastdet.InputError, match="window"):
        Monitor(profile, window=0, metrics=False)
    with pytest.raises(fastdet.InputError, match="frame"):
        Monitor(profile, metrics=False).observe(np.zeros((4, 4), np.float32), detector.detect(_scene(rng)))
    (tmp_path / "x.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(fastdet.InputError, match="not a fastdet drift profile"):
        Profile.load(tmp_path / "x.json")
    with pytest.raises(fastdet.InputError, match="fastdet profile DATA"):
        Profile.load(tmp_path / "missing.json")


def test_profile_cli_on_images_and_video(detector, tmp_path, capsys):
    rng = np.random.default_rng(6)
    folder = tmp_path / "imgs"
    folder.mkdir()
    writer = cv2.VideoWriter(str(tmp_path / "v.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10, (128, 96))
    for i in range(12):
        frame = _scene(rng)
        cv2.imwrite(str(folder / f"{i}.png"), frame)
        writer.write(frame)
    writer.release()
    model = str(detector.info.path)
    assert main(["profile", str(folder), "-o", str(tmp_path / "a.json"), "--model", model]) == 0
    assert Profile.load(tmp_path / "a.json").frames == 12
    assert main(["profile", str(tmp_path / "v.avi"), "-o", str(tmp_path / "b.json"), "--model", model,
                 "--frames", "2:10:2"]) == 0
    assert Profile.load(tmp_path / "b.json").frames == 4
    assert main(["profile", str(tmp_path / "v.avi"), "-o", str(tmp_path / "c.json"), "--model", model,
                 "--frames", "x"]) == 2
    assert main(["profile", str(tmp_path / "none.avi"), "-o", str(tmp_path / "c.json"), "--model", model]) == 2
