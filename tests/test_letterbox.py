"""CPU letterbox vs the OpenCV reference pipeline, value for value, on random and real frames
(the many-case equality sweep over every instruction set is test_letterbox_exact.py)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import fastdet
from fastdet import _core, recipes
from references import reference_letterbox, ultralytics_geometry

SIZES = [(1, 1), (1, 7), (7, 1), (2, 3), (17, 31), (333, 777), (480, 640), (640, 640), (720, 1280),
         (1001, 1280), (1080, 1920), (1080, 810), (2000, 30), (30, 2000), (319, 321)]


@pytest.mark.parametrize("h,w", SIZES)
def test_ultralytics_recipe_matches_opencv(h, w):
    rng = np.random.default_rng(h * 10007 + w)
    img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    out, g = fastdet.letterbox(img, 640)
    ref = reference_letterbox(img, 640, 640)
    assert out.shape == (3, 640, 640) and out.dtype == np.float32
    np.testing.assert_array_equal(out, ref)
    assert (g.new_w, g.new_h, g.pad_x, g.pad_y) == ultralytics_geometry(h, w, 640, 640)


@pytest.mark.parametrize("dst", [(640, 640), (384, 640), (320, 320), (416, 416), (640, 480)])
def test_non_square_and_small_inputs(dst):
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8)
    out, _ = fastdet.letterbox(img, dst)
    np.testing.assert_array_equal(out, reference_letterbox(img, *dst))


@pytest.mark.parametrize(
    "kw",
    [
        dict(placement="top_left", scale=1.0, output_rgb=False),  # YOLOX
        dict(placement="stretch"),  # RT-DETR
        dict(pad_value=0.0),
        dict(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)),
        dict(output_rgb=False),
    ],
    ids=["yolox", "stretch", "pad0", "imagenet", "bgr-out"],
)
@pytest.mark.parametrize("h,w", [(1080, 1920), (333, 777), (50, 40), (640, 640)])
def test_recipes_match_opencv(kw, h, w):
    rng = np.random.default_rng(h + w)
    img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    recipe = recipes.make_recipe(**{k: v for k, v in kw.items()})
    out, _ = fastdet.letterbox(img, 640, recipe=recipe)
    ref_kw = dict(kw)
    ref_kw["pad"] = ref_kw.pop("pad_value", 114.0)
    np.testing.assert_array_equal(out, reference_letterbox(img, 640, 640, **ref_kw))


def test_rgb_input_and_bgra_input():
    rng = np.random.default_rng(3)
    bgr = rng.integers(0, 256, (300, 500, 3), dtype=np.uint8)
    expected, _ = fastdet.letterbox(bgr, 640)
    rgb_out, _ = fastdet.letterbox(np.ascontiguousarray(bgr[:, :, ::-1]), 640, rgb=True)
    bgra = np.dstack([bgr, rng.integers(0, 256, (300, 500), dtype=np.uint8)])
    bgra_out, _ = fastdet.letterbox(bgra, 640)
    np.testing.assert_array_equal(rgb_out, expected)
    np.testing.assert_array_equal(bgra_out, expected)


def test_cropped_view_with_row_pitch():
    rng = np.random.default_rng(4)
    big = rng.integers(0, 256, (500, 900, 3), dtype=np.uint8)
    crop = big[50:450, 100:700]  # rows keep the parent's pitch
    out, _ = fastdet.letterbox(crop, 640)
    np.testing.assert_array_equal(out, fastdet.letterbox(np.ascontiguousarray(crop), 640)[0])


def test_buffer_is_reused_and_fully_overwritten():
    rng = np.random.default_rng(5)
    buf = np.full((3, 640, 640), np.nan, dtype=np.float32)
    for shape in [(1080, 1920, 3), (100, 100, 3), (640, 200, 3)]:
        img = rng.integers(0, 256, shape, dtype=np.uint8)
        out, _ = fastdet.letterbox(img, 640, out=buf)
        assert out is buf
        assert np.isfinite(buf).all()
        np.testing.assert_array_equal(buf, reference_letterbox(img, 640, 640))


def test_extreme_sizes():
    rng = np.random.default_rng(6)
    for shape in [(4320, 7680, 3), (1, 4000, 3), (4000, 1, 3)]:
        img = rng.integers(0, 256, shape, dtype=np.uint8)
        out, g = fastdet.letterbox(img, 640)
        np.testing.assert_array_equal(out, reference_letterbox(img, 640, 640))
        assert g.new_w >= 1 and g.new_h >= 1


def test_real_images(assets):
    for name in ["bus.jpg", "zidane.jpg"]:
        img = cv2.imread(str(assets / "images" / name))
        out, _ = fastdet.letterbox(img, 640)
        np.testing.assert_array_equal(out, reference_letterbox(img, 640, 640))
        out, _ = fastdet.letterbox(img, 416, recipe="yolox")
        ref = reference_letterbox(img, 416, 416, placement="top_left", scale=1.0, output_rgb=False)
        np.testing.assert_array_equal(out, ref)


def test_threads_give_identical_results():
    # The pool splits rows differently by size; the values must not depend on the split.
    rng = np.random.default_rng(7)
    img = rng.integers(0, 256, (1080, 1920, 3), dtype=np.uint8)
    a, _ = fastdet.letterbox(img, 640)
    b = np.empty_like(a)
    for _ in range(5):
        _core.letterbox_into(img, b, recipes.ultralytics())
        np.testing.assert_array_equal(a, b)
