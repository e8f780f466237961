"""Detections against the libraries whose results users already know (skipped where not installed):
supervision's ``sv.Detections`` and ultralytics' ``Results.boxes``."""

from __future__ import annotations

import numpy as np
import pytest

from fastdet.results import Detections

NAMES = {0: "person", 1: "bicycle", 2: "car"}


@pytest.fixture()
def dets():
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 300, (12, 2)).astype(np.float32)
    wh = rng.uniform(1, 200, (12, 2)).astype(np.float32)
    xyxy = np.concatenate([xy, np.minimum(xy + wh, [640, 480])], axis=1).astype(np.float32)
    scores = np.sort(rng.uniform(0.25, 1, 12).astype(np.float32))[::-1].copy()
    return Detections(xyxy, scores, rng.integers(0, 3, 12).astype(np.int32), NAMES, (480, 640))


def test_to_supervision_shares_the_arrays(dets):
    sv = pytest.importorskip("supervision")
    s = dets.to_supervision()
    assert isinstance(s, sv.Detections) and len(s) == len(dets)
    assert np.shares_memory(s.xyxy, dets.xyxy) and np.shares_memory(s.confidence, dets.scores)
    assert np.shares_memory(s.class_id, dets.class_ids)
    assert list(s.data["class_name"]) == [NAMES[c] for c in dets.class_ids.tolist()]
    np.testing.assert_allclose(s.area, dets.areas, rtol=1e-6)


def test_boolean_masks_select_what_supervision_selects(dets):
    pytest.importorskip("supervision")
    s = dets.to_supervision()
    for keep in (dets.class_ids == 0, dets.scores > 0.5, np.zeros(len(dets), bool)):
        ours, theirs = dets[keep], s[keep]
        np.testing.assert_array_equal(ours.xyxy, theirs.xyxy)
        np.testing.assert_array_equal(ours.scores, theirs.confidence)
        np.testing.assert_array_equal(ours.class_ids, theirs.class_id)
    np.testing.assert_array_equal(dets[2:5].to_supervision().xyxy, s[2:5].xyxy)


def test_supervision_annotators_accept_it(dets):
    sv = pytest.importorskip("supervision")
    frame = np.zeros((480, 640, 3), np.uint8)
    out = sv.LabelAnnotator().annotate(sv.BoxAnnotator().annotate(frame.copy(), dets.to_supervision()),
                                       dets.to_supervision())
    assert out.any()


def test_box_formats_match_ultralytics(dets):
    results = pytest.importorskip("ultralytics.engine.results")
    data = np.concatenate([dets.xyxy, dets.scores[:, None], dets.class_ids[:, None].astype(np.float32)], axis=1)
    boxes = results.Boxes(data, orig_shape=dets.image_shape)
    for ours, theirs in ((dets.xyxy, boxes.xyxy), (dets.xywh, boxes.xywh), (dets.xyxyn, boxes.xyxyn),
                         (dets.xywhn, boxes.xywhn), (dets.scores, boxes.conf),
                         (dets.class_ids, boxes.cls)):
        np.testing.assert_allclose(ours, np.asarray(theirs), rtol=1e-6, atol=1e-6)
    person = dets.class_ids == 0
    np.testing.assert_allclose(dets[person].xywhn, np.asarray(boxes[person].xywhn), rtol=1e-6, atol=1e-6)
