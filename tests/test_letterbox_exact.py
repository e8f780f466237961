"""The letterbox is bit-exact: cv2.resize(INTER_LINEAR)'s bytes, then the recipe's float formula,
value for value, on every instruction set the core has here (FASTDET_SIMD=none|sse2|avx2).

The reference is OpenCV itself (tests/references.py), never a copy of fastdet's arithmetic."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import fastdet
from fastdet import _core, recipes
from references import reference_letterbox, ultralytics_geometry

# Recipes as (make_recipe kwargs, reference_letterbox kwargs). Between them the core's three
# value forms run: /255 and 0-255 (two multiplies, no offset), a plain offset (with one), and
# mean/std (divisions).
RECIPES = {
    "ultralytics": ({}, {}),
    "yolox": (dict(placement="top_left", scale=1.0, output_rgb=False),
              dict(placement="top_left", scale=1.0, output_rgb=False)),
    "stretch": (dict(placement="stretch"), dict(placement="stretch")),
    "imagenet": (dict(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)),
                 dict(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))),
    "offset": (dict(scale=1.0, mean=(128.0, 100.0, 64.0), pad_value=0.0),
               dict(scale=1.0, mean=(128.0, 100.0, 64.0), pad=0.0)),
    "bgr-half": (dict(scale=0.5, output_rgb=False, pad_value=7.5), dict(scale=0.5, output_rgb=False, pad=7.5)),
    "noscaleup": (dict(scaleup=False), None),  # reference below: the frame is never enlarged
}

FORMATS = ["bgr", "bgra", "rgb"]


@pytest.fixture(params=_core.simd_levels())
def simd(request, monkeypatch) -> str:
    """Every instruction set the core runs here, plainest first (the plain C++ one on any CPU)."""
    monkeypatch.setenv("FASTDET_SIMD", request.param)
    assert _core.simd_level() == request.param
    return request.param


def _recipe(name: str):
    return recipes.make_recipe(**RECIPES[name][0])


def _reference(frame_bgr: np.ndarray, H: int, W: int, recipe: str) -> np.ndarray:
    kw = RECIPES[recipe][1]
    if kw is None:  # noscaleup: r = min(r, 1), otherwise the ultralytics recipe
        h, w = frame_bgr.shape[:2]
        if H >= h and W >= w:
            out = np.full((H, W, 3), 114, np.float32)
            top, left = int(round((H - h) / 2 - 0.1)), int(round((W - w) / 2 - 0.1))
            out[top:top + h, left:left + w] = frame_bgr[:, :, 2::-1]
            return np.ascontiguousarray((out / np.float32(255)).transpose(2, 0, 1))
        kw = {}
    return reference_letterbox(frame_bgr, H, W, **kw)


def _check(frame: np.ndarray, size: tuple[int, int], recipe: str, fmt: str, what: str) -> None:
    """frame: uint8[h, w, 3|4] BGR(A) source pixels (any row pitch); fmt says how fastdet gets them."""
    if fmt == "rgb":
        given, rgb = np.ascontiguousarray(frame[:, :, 2::-1]), True  # the same pixels in RGB order
    elif fmt == "bgra":
        given, rgb = np.dstack([frame[:, :, :3], np.full(frame.shape[:2], 77, np.uint8)]), False
    else:
        given, rgb = frame, False
    out, g = fastdet.letterbox(given, size, recipe=_recipe(recipe), rgb=rgb)
    ref = _reference(frame[:, :, :3], size[0], size[1], recipe)
    if not np.array_equal(out, ref):
        bad = np.argwhere(out != ref)
        raise AssertionError(f"{what}: frame {frame.shape} -> {size}, recipe {recipe}, {fmt}, resized to "
                             f"{g.new_w}x{g.new_h}: {len(bad)} values differ, first at {bad[0].tolist()}: "
                             f"{out[tuple(bad[0])]!r} vs {ref[tuple(bad[0])]!r}")


def _random_case(rng: np.random.Generator) -> tuple[np.ndarray, tuple[int, int], str, str]:
    """A frame (sometimes a crop keeping its parent's row pitch), a target size, a recipe, a format."""
    kind = rng.random()
    if kind < 0.1:  # degenerate sides: 1..4 pixels one way
        h, w = (int(rng.integers(1, 5)), int(rng.integers(1, 900))) if rng.random() < 0.5 else \
            (int(rng.integers(1, 900)), int(rng.integers(1, 5)))
    else:
        h, w = int(rng.integers(1, 720)), int(rng.integers(1, 720))
    H, W = int(rng.integers(1, 384)), int(rng.integers(1, 384))
    channels = 4 if rng.random() < 0.3 else 3
    if rng.random() < 0.3:  # a crop: rows keep the parent's pitch
        top, left = int(rng.integers(0, 20)), int(rng.integers(0, 20))
        parent = rng.integers(0, 256, (h + top + int(rng.integers(0, 5)), w + left + int(rng.integers(0, 30)),
                                       channels), dtype=np.uint8)
        frame = parent[top:top + h, left:left + w]
    else:
        frame = rng.integers(0, 256, (h, w, channels), dtype=np.uint8)
    recipe = str(rng.choice(list(RECIPES)))
    fmt = str(rng.choice(FORMATS)) if channels == 3 else "bgr"
    return frame, (H, W), recipe, fmt


def test_random_cases_equal_opencv(simd):
    rng = np.random.default_rng(20251011)
    for i in range(1000):
        frame, size, recipe, fmt = _random_case(rng)
        _check(frame, size, recipe, fmt, f"case {i} ({simd})")


def test_random_cases_equal_opencv_without_ipp():
    """With OpenCV's use of Intel IPP switched off (builds without IPP, e.g. aarch64 wheels, run
    OpenCV's own code): the same bytes."""
    rng = np.random.default_rng(4242)
    before = cv2.ipp.useIPP()
    cv2.ipp.setUseIPP(False)
    try:
        for i in range(200):
            frame, size, recipe, fmt = _random_case(rng)
            _check(frame, size, recipe, fmt, f"case {i} (OpenCV without IPP)")
    finally:
        cv2.ipp.setUseIPP(before)


@pytest.mark.parametrize(
    "shape,size",
    [
        ((1280, 1280), (640, 640)),  # 1/2 (OpenCV takes its INTER_AREA path here: same values)
        ((1920, 1920), (640, 640)),  # 1/3
        ((1080, 1920), (640, 640)),  # 1/3 to 640x360
        ((720, 1280), (640, 640)),  # 1/2 to 640x360
        ((320, 320), (640, 640)),  # 2x
        ((213, 213), (639, 639)),  # 3x
        ((1001, 1280), (640, 640)),  # ultralytics rounds 500.5 half to even: 640x500
        ((1080, 810), (640, 640)),  # bus.jpg: 480x640
        ((1, 1), (640, 640)),
        ((1, 1), (1, 1)),
        ((1, 1000), (640, 640)),
        ((1000, 1), (640, 640)),
        ((1, 7), (3, 5)),
        ((7, 1), (5, 3)),
        ((2, 3), (640, 480)),
        ((640, 640), (640, 640)),  # no resize
        ((3, 1500), (320, 320)),
    ],
)
def test_special_sizes(simd, shape, size):
    rng = np.random.default_rng(shape[0] * 7919 + shape[1])
    frame = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    for recipe in ("ultralytics", "yolox", "stretch"):
        _check(frame, size, recipe, "bgr", simd)


def test_round_half_even_size():
    frame = np.zeros((1001, 1280, 3), np.uint8)
    _, g = fastdet.letterbox(frame, 640)
    assert (g.new_w, g.new_h, g.pad_x, g.pad_y) == (640, 500, 0, 70) == ultralytics_geometry(1001, 1280, 640, 640)


@pytest.fixture(scope="module")
def frame_8k() -> np.ndarray:
    return np.random.default_rng(8).integers(0, 256, (4320, 7680, 3), dtype=np.uint8)


def test_8k(simd, frame_8k):
    _check(frame_8k, (640, 640), "ultralytics", "bgr", simd)
    _check(frame_8k[:, :7001], (384, 640), "yolox", "bgr", simd)


def test_real_images_equal_opencv_recipe(simd, assets):
    for name in ("bus.jpg", "zidane.jpg", "astronaut.jpg"):
        img = cv2.imread(str(assets / "images" / name))
        for size, recipe in (((640, 640), "ultralytics"), ((320, 320), "ultralytics"), ((416, 416), "yolox"),
                             ((384, 640), "ultralytics"), ((640, 640), "imagenet")):
            _check(img, size, recipe, "bgr", f"{name} ({simd})")


def test_real_images_equal_ultralytics_letterbox(assets):
    augment = pytest.importorskip("ultralytics.data.augment", reason="ultralytics is not installed")
    for name in ("bus.jpg", "zidane.jpg", "astronaut.jpg"):
        img = cv2.imread(str(assets / "images" / name))
        for size in ((640, 640), (320, 320), (384, 640)):
            padded = augment.LetterBox(size, auto=False, scale_fill=False, scaleup=True, center=True)(image=img)
            # ultralytics' predictor: BGR -> RGB, HWC -> CHW, float32, / 255.
            expected = np.ascontiguousarray(padded[..., ::-1].transpose(2, 0, 1)).astype(np.float32) / 255
            out, _ = fastdet.letterbox(img, size)
            np.testing.assert_array_equal(out, expected, err_msg=f"{name} -> {size}")


def test_simd_switch_is_checked(monkeypatch):
    monkeypatch.setenv("FASTDET_SIMD", "avx512")
    with pytest.raises(fastdet.InputError, match="FASTDET_SIMD"):
        fastdet.letterbox(np.zeros((4, 4, 3), np.uint8), 8)
    monkeypatch.setenv("FASTDET_SIMD", "none")
    assert _core.simd_level() == "none"
    monkeypatch.delenv("FASTDET_SIMD")
    assert _core.simd_level() == _core.simd_levels()[-1]
