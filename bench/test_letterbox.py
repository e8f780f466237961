"""Letterbox to 640x640: fastdet's one-pass C++ letterbox vs the cv2/numpy pipeline
(resize INTER_LINEAR + copyMakeBorder(114) + cvtColor BGR2RGB + astype(float32)/255 + transpose).

Both give the same values (fastdet's letterbox is bit-exact with that pipeline), so the ratio is
speed alone. Frames: 1080p (an exact 1/3 scale), bus.jpg (810x1080 -> 480x640) and 720p (an exact
1/2) as the non-integer and integer cases of the contract.

    FASTDET_NUM_THREADS=1 pytest bench/test_letterbox.py   # one thread on both sides (OpenCV too)
    pytest bench/test_letterbox.py                          # all threads
    FASTDET_SIMD=sse2 pytest bench/test_letterbox.py        # another instruction set
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from fastdet import _core, recipes
from bench import synthetic
from bench.references import letterbox_reference


@pytest.fixture(scope="module", autouse=True)
def opencv_threads():
    """With FASTDET_NUM_THREADS=1, OpenCV gets one thread too: a one-thread comparison."""
    import cv2

    before = cv2.getNumThreads()
    if os.environ.get("FASTDET_NUM_THREADS") == "1":
        cv2.setNumThreads(1)
    yield
    cv2.setNumThreads(before)


@pytest.mark.parametrize("impl", ["fastdet", "opencv"])
@pytest.mark.parametrize("frame_name", ["1080p", "bus.jpg", "720p"])
def test_letterbox(benchmark, frames, frame_name: str, impl: str) -> None:
    frame = synthetic.frame(1280, 720) if frame_name == "720p" else frames[frame_name]()
    benchmark.group = f"letterbox {frame_name} -> 640"
    benchmark.extra_info["impl"] = impl
    benchmark.extra_info["simd"] = _core.simd_level()
    benchmark.extra_info["threads"] = _core.num_threads()
    if impl == "fastdet":
        out = np.empty((3, 640, 640), np.float32)
        recipe = recipes.ultralytics()
        benchmark(_core.letterbox_into, frame, out, recipe, False)
        ref, _ = letterbox_reference(frame)
        np.testing.assert_array_equal(out, ref)  # same recipe, same values
    else:
        benchmark(letterbox_reference, frame)
