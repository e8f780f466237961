"""Letterbox to 640x640: fastdet's one-pass C++ letterbox vs the cv2/numpy pipeline
(resize INTER_LINEAR + copyMakeBorder(114) + cvtColor BGR2RGB + astype(float32)/255 + transpose)."""

from __future__ import annotations

import numpy as np
import pytest

from fastdet import _core, recipes
from fastdet.bench.references import letterbox_reference


@pytest.mark.parametrize("impl", ["fastdet", "opencv"])
@pytest.mark.parametrize("frame_name", ["1080p", "bus.jpg"])
def test_letterbox(benchmark, frames, frame_name: str, impl: str) -> None:
    frame = frames[frame_name]()
    benchmark.group = f"letterbox {frame_name} -> 640"
    benchmark.extra_info["impl"] = impl
    if impl == "fastdet":
        out = np.empty((3, 640, 640), np.float32)
        recipe = recipes.ultralytics()
        benchmark(_core.letterbox_into, frame, out, recipe, False)
        ref, _ = letterbox_reference(frame)
        np.testing.assert_allclose(out, ref, atol=1.5 / 255)  # same recipe, same result
    else:
        benchmark(letterbox_reference, frame)
