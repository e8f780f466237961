"""Standalone exact greedy NMS vs the numpy reference."""

from __future__ import annotations

import numpy as np
import pytest

import fastdet
from references import greedy_nms


def random_boxes(n, rng, spread=300.0):
    xy = rng.uniform(0, spread, (n, 2))
    wh = rng.uniform(1, 100, (n, 2))
    return np.concatenate([xy, xy + wh], 1).astype(np.float32)


@pytest.mark.parametrize("n", [0, 1, 2, 10, 500, 3000])
@pytest.mark.parametrize("iou", [0.3, 0.5, 0.7])
def test_matches_reference(n, iou):
    rng = np.random.default_rng(n)
    boxes = random_boxes(n, rng)
    scores = rng.uniform(0, 1, n).astype(np.float32)
    classes = rng.integers(0, 5, n).astype(np.int32)
    np.testing.assert_array_equal(fastdet.nms(boxes, scores, iou), greedy_nms(boxes, scores, None, iou))
    np.testing.assert_array_equal(fastdet.nms(boxes, scores, iou, classes), greedy_nms(boxes, scores, classes, iou))


def test_quantised_scores_ties_are_stable():
    rng = np.random.default_rng(1)
    boxes = random_boxes(1000, rng, spread=100)
    scores = (rng.integers(0, 5, 1000) / 4).astype(np.float32)  # many exact ties
    np.testing.assert_array_equal(fastdet.nms(boxes, scores, 0.5), greedy_nms(boxes, scores, None, 0.5))


def test_max_det_truncates_kept_list():
    rng = np.random.default_rng(2)
    boxes = random_boxes(200, rng, spread=3000)
    scores = rng.uniform(0, 1, 200).astype(np.float32)
    full = fastdet.nms(boxes, scores, 0.5)
    np.testing.assert_array_equal(fastdet.nms(boxes, scores, 0.5, max_det=10), full[:10])


def test_bad_arguments():
    with pytest.raises(TypeError, match="boxes: expected dtype float32"):
        fastdet.nms(np.zeros((3, 4)), np.zeros(3, np.float32), 0.5)
    with pytest.raises(ValueError, match="boxes: expected shape"):
        fastdet.nms(np.zeros((3, 5), np.float32), np.zeros(3, np.float32), 0.5)
    with pytest.raises(ValueError, match="scores: expected shape"):
        fastdet.nms(np.zeros((3, 4), np.float32), np.zeros(2, np.float32), 0.5)
