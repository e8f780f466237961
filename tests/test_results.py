"""The Detections API: indexing, box formats, plain data, drawing."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

import fastdet
from fastdet import draw
from fastdet.results import Box, Detections

NAMES = {0: "person", 1: "bicycle", 2: "car"}


@pytest.fixture()
def dets():
    xyxy = np.array([[10, 20, 50, 80], [0, 0, 200, 100], [150, 30, 200, 60]], np.float32)
    return Detections(xyxy, np.array([0.9, 0.6, 0.4], np.float32), np.array([0, 2, 0], np.int32), NAMES, (100, 200),
                      candidates=7, dropped=1)


def test_int_index_is_a_box(dets):
    assert dets[1] == Box(0.0, 0.0, 200.0, 100.0, pytest.approx(0.6), 2, "car")
    assert dets[-1].name == "person" and dets[np.int64(0)].score == pytest.approx(0.9)
    with pytest.raises(IndexError):
        dets[3]


def test_mask_slice_and_indices_give_detections(dets):
    people = dets[dets.class_ids == 0]
    assert isinstance(people, Detections) and len(people) == 2
    np.testing.assert_array_equal(people.xyxy, dets.xyxy[[0, 2]])
    assert people.names == NAMES and people.image_shape == (100, 200)
    assert (people.candidates, people.dropped) == (7, 1)  # they describe the image's decode
    assert [b.name for b in dets[1:]] == ["car", "person"]
    assert np.shares_memory(dets[1:].xyxy, dets.xyxy)  # a slice is a view
    np.testing.assert_array_equal(dets[[2, 0]].scores, np.array([0.4, 0.9], np.float32))
    np.testing.assert_array_equal(dets[np.array([1])].class_ids, [2])
    assert len(dets[[]]) == 0 and len(dets[dets.scores > 1]) == 0
    assert dets[[True, False, True]].scores.tolist() == people.scores.tolist()


def test_bad_indices_are_named(dets):
    with pytest.raises(IndexError, match=r"boolean mask must have shape \(3,\)"):
        dets[np.array([True, False])]
    for bad in ("person", 1.5, None, True, np.zeros((3, 1), np.int64), np.array([0.5])):
        with pytest.raises(TypeError, match="index"):
            dets[bad]


def test_box_formats(dets):
    np.testing.assert_array_equal(dets.xywh[0], [30, 50, 40, 60])
    np.testing.assert_allclose(dets.xyxyn[1], [0, 0, 1, 1])
    np.testing.assert_allclose(dets.xyxyn[0], [10 / 200, 20 / 100, 50 / 200, 80 / 100], rtol=1e-6)
    np.testing.assert_allclose(dets.xywhn[0], [30 / 200, 50 / 100, 40 / 200, 60 / 100], rtol=1e-6)
    np.testing.assert_array_equal(dets.areas, [2400, 20000, 1500])
    for a in (dets.xywh, dets.xyxyn, dets.xywhn, dets.areas):
        assert a.dtype == np.float32 and a.shape[0] == 3
    empty = dets[[]]
    assert empty.xywh.shape == (0, 4) and empty.xywhn.shape == (0, 4) and empty.areas.shape == (0,)


def test_to_list_and_json(dets):
    data = json.loads(dets.to_json())
    assert data["height"] == 100 and data["width"] == 200
    assert data["detections"] == json.loads(json.dumps(dets.to_list()))
    assert data["detections"][1]["name"] == "car" and data["detections"][1]["box"] == [0, 0, 200, 100]
    assert "\n" in dets.to_json(indent=1)


def test_to_supervision_without_supervision_says_how_to_get_it(dets, monkeypatch):
    monkeypatch.setitem(sys.modules, "supervision", None)
    with pytest.raises(ImportError, match="pip install supervision"):
        dets.to_supervision()


def _frame():
    rng = np.random.default_rng(0)
    return rng.integers(0, 60, (100, 200, 3), dtype=np.uint8)


@pytest.mark.parametrize("supervision", ["absent", "installed"])
def test_plot_returns_an_annotated_copy(dets, supervision, monkeypatch):
    if supervision == "absent":
        monkeypatch.setitem(sys.modules, "supervision", None)
    elif not draw_with_supervision():
        pytest.skip("supervision >= 0.25 is not installed")
    frame = _frame()
    before = frame.copy()
    out = dets.plot(frame)
    np.testing.assert_array_equal(frame, before)  # the frame itself is untouched
    assert out.shape == frame.shape and out.dtype == np.uint8 and (out != frame).any()
    bgra = np.dstack([frame, np.full(frame.shape[:2], 255, np.uint8)])
    np.testing.assert_array_equal(dets.plot(bgra), out)  # alpha ignored
    rgb = dets.plot(np.ascontiguousarray(frame[:, :, ::-1]), rgb=True)
    np.testing.assert_array_equal(rgb[:, :, ::-1], out)  # the same picture, in the frame's channel order
    np.testing.assert_array_equal(dets.plot(np.asfortranarray(frame)), out)  # any memory layout


@pytest.mark.parametrize("supervision", ["absent", "installed"])
def test_labels_stay_inside_the_image(supervision, monkeypatch):
    """A box at the right edge: its label is moved left into the image, not cut off."""
    if supervision == "absent":
        monkeypatch.setitem(sys.modules, "supervision", None)
    elif not draw_with_supervision():
        pytest.skip("supervision >= 0.25 is not installed")
    edge = Detections(np.array([[190, 50, 200, 90]], np.float32), np.array([0.91], np.float32),
                      np.array([0], np.int32), NAMES, (100, 200))
    frame = np.zeros((100, 200, 3), np.uint8)
    out = edge.plot(frame)
    # "person 0.91" is ~60 px wide: drawn left of the box, against the right edge, near the box's top.
    drawn_columns = np.flatnonzero(out[:50].any(axis=(0, 2)))
    assert drawn_columns.min() < 160 and drawn_columns.max() <= 199
    corner = Detections(np.array([[0, 0, 30, 30]], np.float32), np.array([0.5], np.float32),
                        np.array([1], np.int32), NAMES, (100, 200))
    assert corner.plot(frame)[:20, :60].any()  # no room above: the label goes inside, not off the top


def test_label_box_is_always_inside():
    rng = np.random.default_rng(1)
    for _ in range(500):
        w, h = (int(v) for v in rng.integers(1, 300, 2))
        tw, th = (int(v) for v in rng.integers(1, 100, 2))
        x, y = (int(v) for v in rng.integers(-50, 350, 2))
        lx, ly = draw.label_box((x, y), (tw, th), (w, h))
        assert 0 <= lx and 0 <= ly
        assert lx + tw <= max(w, tw) and ly + th <= max(h, th)
    assert draw.label_box((20, 50), (30, 10), (200, 100)) == (20, 40)  # above the box when it fits
    assert draw.label_box((20, 5), (30, 10), (200, 100)) == (20, 5)  # else inside its top
    assert draw.label_box((190, 50), (30, 10), (200, 100)) == (170, 40)  # never past the right edge


def test_plot_checks_the_frame(dets):
    with pytest.raises(ValueError, match="frame: expected the 200x100 image"):
        dets.plot(np.zeros((50, 50, 3), np.uint8))
    with pytest.raises(TypeError, match="frame"):
        dets.plot(np.zeros((100, 200, 3), np.float32))
    with pytest.raises(ValueError, match="frame"):
        dets.plot(np.zeros((100, 200), np.uint8))


def test_save_writes_the_plot(dets, tmp_path):
    import cv2

    frame = _frame()
    path = dets.save(tmp_path / "new" / "a.png", frame)
    assert path == tmp_path / "new" / "a.png"
    np.testing.assert_array_equal(cv2.imread(str(path)), dets.plot(frame))
    cv2.imwrite(str(tmp_path / "in.png"), frame)
    np.testing.assert_array_equal(cv2.imread(str(dets.save(tmp_path / "b.png", tmp_path / "in.png"))),
                                  dets.plot(frame))  # a path works as the frame
    rgb = np.ascontiguousarray(frame[:, :, ::-1])
    np.testing.assert_array_equal(cv2.imread(str(dets.save(tmp_path / "c.png", rgb, rgb=True))), dets.plot(frame))
    with pytest.raises(ValueError, match="path: cannot write"):
        dets.save(tmp_path / "noformat", frame)
    with pytest.raises(ValueError, match="path: cannot write"):
        dets.save(tmp_path / "x.notanimage", frame)


def test_detector_results_round_trip(two_class_model):
    dets = fastdet.Detector(two_class_model).detect(np.full((40, 80, 3), 255, np.uint8))
    cars = dets[dets.class_ids == 1]
    assert [b.name for b in cars] == ["car"] and len(dets[dets.class_ids == 0]) == 0
    assert cars.xyxyn.max() <= 1 and cars.to_json().startswith('{"height": 40, "width": 80')


def draw_with_supervision() -> bool:
    from fastdet import supervision_bridge

    return supervision_bridge.usable_for_drawing()
