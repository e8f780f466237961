"""Decode + NMS of a raw YOLOv8 head [B, 84, 8400]: fastdet's fused C++ decode vs numpy decode +
cv2.dnn.NMSBoxesBatched (and torchvision.ops.batched_nms when installed), with 0, 150, 1300 and
8400 candidates above conf 0.25 per image (deterministic synthetic outputs)."""

from __future__ import annotations

import pytest

from fastdet import _core
from bench import synthetic
from bench.references import LetterboxInfo, decode_reference, decode_torchvision, torchvision_available

IMPLS = ["fastdet", "opencv", pytest.param("torchvision", marks=pytest.mark.skipif(
    not torchvision_available(), reason="torchvision not installed (optional reference)"))]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("batch", [1, 8])
@pytest.mark.parametrize("candidates", [0, 150, 1300, 8400])
def test_decode_nms(benchmark, candidates: int, batch: int, impl: str) -> None:
    raw = synthetic.raw_output(candidates, batch=batch)
    g = _core.make_geometry(1080, 1920, 640, 640)
    benchmark.group = f"decode+NMS B={batch} candidates={candidates}"
    benchmark.extra_info["impl"] = impl
    if impl == "fastdet":
        head = _core.HeadSpec(_core.HeadFormat.YOLOV8, 80, raw.shape[2])
        opts = _core.DecodeOptions(0.25, 0.7, 300, 30000, False)
        result = benchmark(_core.decode, raw, head, [g] * batch, opts)
        kept = [len(r[1]) for r in result]
    else:
        info = LetterboxInfo(g.gain_x, g.gain_y, g.pad_x, g.pad_y, g.src_h, g.src_w)
        fn = decode_reference if impl == "opencv" else decode_torchvision
        result = benchmark(fn, raw, [info] * batch)
        kept = [len(r[1]) for r in result]
    benchmark.extra_info["kept_per_image"] = kept
