"""Fused decode + NMS vs the numpy reference, every head format, random and crafted inputs."""

from __future__ import annotations

import numpy as np
import pytest

from fastdet import _core
from references import reference_decode
from synthetic_outputs import head_for, random_output

def check_against_reference(out, fmt, head, geoms, **kw):
    opts = _core.DecodeOptions(kw.get("conf", 0.25), kw.get("iou", 0.7), kw.get("max_det", 300),
                               kw.get("max_candidates", 30000), kw.get("agnostic", False))
    results = _core.decode(out, head, geoms, opts, kw.get("classes"))
    assert len(results) == out.shape[0]
    for b, (xyxy, scores, ids, stats) in enumerate(results):
        rb, rs, rc, ncand, dropped = reference_decode(out[b], fmt, geoms[b], input_hw=(head.input_h, head.input_w), **kw)
        assert stats.kept == len(scores) == len(rs)
        assert stats.candidates == ncand and stats.dropped == dropped
        np.testing.assert_array_equal(ids, rc)
        np.testing.assert_array_equal(scores, rs)
        np.testing.assert_allclose(xyxy, rb, rtol=1e-5, atol=1e-3)
        assert xyxy.dtype == np.float32 and ids.dtype == np.int32
    return results


@pytest.mark.parametrize("fmt,n", [("yolov8", 8400), ("yolov5", 25200), ("yolox", 3549), ("end2end", 300)])
@pytest.mark.parametrize("seed", range(4))
def test_random_outputs_match_reference(fmt, n, seed):
    rng = np.random.default_rng(seed)
    nc = 80
    input_hw = (416, 416) if fmt == "yolox" else (640, 640)
    batch = 2
    out = np.stack([random_output(fmt, n, nc, rng, input_hw=input_hw) for _ in range(batch)])
    geoms = [_core.make_geometry(1080, 1920, *input_hw), _core.make_geometry(810, 1080, *input_hw)]
    check_against_reference(out, fmt, head_for(fmt, n, nc, input_hw), geoms)


@pytest.mark.parametrize("fmt", ["yolov8", "yolov5"])
@pytest.mark.parametrize("kw", [dict(agnostic=True), dict(classes=[0, 2, 5]), dict(iou=0.3), dict(iou=0.95),
                                dict(conf=0.5), dict(max_det=7), dict(conf=0.0, max_candidates=500)])
def test_options_match_reference(fmt, kw):
    rng = np.random.default_rng(42)
    n = 8400 if fmt == "yolov8" else 25200
    out = random_output(fmt, n, 80, rng, hot=1300)[None]
    check_against_reference(out, fmt, head_for(fmt, n, 80), [_core.make_geometry(720, 1280, 640, 640)], **kw)


def test_ties_keep_lower_anchor_first_and_identical_boxes_suppress():
    n, nc = 64, 3
    out = np.zeros((1, 4 + nc, n), np.float32)
    out[0, :4] = np.array([[100], [100], [50], [50]], np.float32)  # every anchor: the same box
    out[0, 4, :] = 0.9  # same class, same score everywhere
    head = head_for("yolov8", n, nc)
    g = _core.make_geometry(640, 640, 640, 640)
    xyxy, scores, ids, stats = _core.decode(out, head, [g], _core.DecodeOptions())[0]
    assert stats.candidates == n and len(scores) == 1
    # Identical boxes in different classes survive class-aware NMS, but not agnostic NMS.
    out[0, 4, 1::2] = 0.0
    out[0, 5, 1::2] = 0.9
    assert len(_core.decode(out, head, [g], _core.DecodeOptions())[0][1]) == 2
    assert len(_core.decode(out, head, [g], _core.DecodeOptions(agnostic=True))[0][1]) == 1
    check_against_reference(out, "yolov8", head, [g])
    check_against_reference(out, "yolov8", head, [g], agnostic=True)


def test_equal_scores_are_ordered_by_anchor():
    n = 10
    out = np.zeros((1, 5, n), np.float32)
    out[0, 0] = np.arange(n) * 60 + 20  # disjoint boxes
    out[0, 1] = 100
    out[0, 2:4] = 20
    out[0, 4] = 0.5
    g = _core.make_geometry(640, 640, 640, 640)
    xyxy, scores, ids, _ = _core.decode(out, head_for("yolov8", n, 1), [g], _core.DecodeOptions())[0]
    np.testing.assert_array_equal(xyxy[:, 0], np.arange(n) * 60 + 10)


def test_zero_area_and_degenerate_boxes():
    n = 6
    out = np.zeros((1, 5, n), np.float32)
    out[0, 0:2] = 100
    out[0, 2:4] = 0  # zero-area boxes: IoU 0, none suppresses another
    out[0, 4] = np.linspace(0.9, 0.4, n)
    g = _core.make_geometry(640, 640, 640, 640)
    res = check_against_reference(out, "yolov8", head_for("yolov8", n, 1), [g])
    assert len(res[0][1]) == n


def test_all_below_threshold_and_empty_images_in_batch():
    rng = np.random.default_rng(0)
    out = np.stack([random_output("yolov8", 8400, 80, rng), np.zeros((84, 8400), np.float32)])
    geoms = [_core.make_geometry(480, 640, 640, 640)] * 2
    res = check_against_reference(out, "yolov8", head_for("yolov8", 8400, 80), geoms)
    assert len(res[1][1]) == 0 and res[1][3].candidates == 0


def test_candidate_cap_is_reported():
    rng = np.random.default_rng(9)
    out = random_output("yolov8", 8400, 80, rng, hot=8400)[None]
    res = check_against_reference(out, "yolov8", head_for("yolov8", 8400, 80),
                                  [_core.make_geometry(640, 640, 640, 640)], max_candidates=1000)
    stats = res[0][3]
    assert stats.candidates == 8400 and stats.dropped == 7400


def test_many_classes():
    rng = np.random.default_rng(10)
    out = random_output("yolov8", 2100, 1000, rng, hot=500)[None]
    check_against_reference(out, "yolov8", head_for("yolov8", 2100, 1000), [_core.make_geometry(300, 300, 320, 320)])


def test_boxes_are_clipped_to_the_image():
    out = np.zeros((1, 5, 1), np.float32)
    out[0, :4, 0] = [10, 10, 100, 100]  # extends past the top-left corner
    out[0, 4, 0] = 0.9
    g = _core.make_geometry(480, 640, 640, 640)
    xyxy = _core.decode(out, head_for("yolov8", 1, 1), [g], _core.DecodeOptions())[0][0]
    assert xyxy.min() >= 0 and xyxy[0, 2] <= 640 and xyxy[0, 3] <= 480
