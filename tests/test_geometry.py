"""Letterbox geometry vs ultralytics' formula, and mapping boxes back."""

from __future__ import annotations

import numpy as np
import pytest

from fastdet import _core
from references import ultralytics_geometry

TABLE = [(1080, 1920), (1001, 1280), (1280, 1001), (810, 1080), (720, 1280), (1, 1), (1, 10000),
         (10000, 1), (479, 641), (640, 640), (333, 777), (2160, 3840), (4320, 7680), (999, 999)]


@pytest.mark.parametrize("h,w", TABLE)
@pytest.mark.parametrize("dst", [(640, 640), (320, 320), (416, 416), (640, 384)])
def test_center_geometry_matches_ultralytics(h, w, dst):
    H, W = dst
    g = _core.make_geometry(h, w, H, W)
    nw, nh, left, top = ultralytics_geometry(h, w, H, W)
    assert (g.new_w, g.new_h) == (nw, nh)
    assert (g.pad_x, g.pad_y) == (left, top)
    assert g.gain_x == pytest.approx(g.new_w / w) and g.gain_y == pytest.approx(g.new_h / h)


def test_round_half_to_even():
    # 1001 * 0.5 = 500.5 -> 500 (Python's round), where C's lround would give 501.
    assert _core.make_geometry(1001, 1280, 640, 640).new_h == 500


def test_top_left_and_stretch():
    g = _core.make_geometry(1080, 810, 416, 416, _core.Placement.TOP_LEFT)
    assert (g.new_w, g.new_h, g.pad_x, g.pad_y) == (int(810 * 416 / 1080), 416, 0, 0)
    g = _core.make_geometry(1080, 810, 640, 640, _core.Placement.STRETCH)
    assert (g.new_w, g.new_h, g.pad_x, g.pad_y) == (640, 640, 0, 0)


def test_scaleup_false_keeps_small_frames_small():
    g = _core.make_geometry(100, 200, 640, 640, _core.Placement.CENTER, scaleup=False)
    assert (g.new_w, g.new_h) == (200, 100)


def test_bad_sizes_raise():
    with pytest.raises(ValueError, match="frame size"):
        _core.make_geometry(0, 10, 640, 640)
    with pytest.raises(ValueError, match="size"):
        _core.make_geometry(10, 10, 0, 640)


def test_boxes_map_back_to_original_pixels():
    # A box drawn in original pixels, pushed through the forward geometry, comes back.
    g = _core.make_geometry(1080, 810, 640, 640)
    x1, y1, x2, y2 = 100.0, 200.0, 300.0, 700.0
    fwd = np.array([[x1 * g.gain_x + g.pad_x, y1 * g.gain_y + g.pad_y, 0, 0]], np.float32)
    fwd[0, 2:] = [x2 * g.gain_x + g.pad_x, y2 * g.gain_y + g.pad_y]
    # An end-to-end head output carries xyxy in input pixels: decode only maps back and clips.
    out = np.zeros((1, 1, 6), np.float32)
    out[0, 0, :4] = fwd[0]
    out[0, 0, 4] = 0.9
    head = _core.HeadSpec(_core.HeadFormat.END2END, 80, 1)
    xyxy, *_ = _core.decode(out, head, [g], _core.DecodeOptions())[0]
    np.testing.assert_allclose(xyxy[0], [x1, y1, x2, y2], rtol=1e-5)
