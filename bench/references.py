"""The hand-written pipelines fastdet is measured against (what a user writes without fastdet).

They follow ultralytics' predict-mode semantics (letterbox, conf 0.25, IoU 0.7, max_det 300,
class-aware NMS, ``scale_boxes``) using only numpy, OpenCV and onnxruntime, written the way a
careful user would (vectorised, no Python loops over boxes), so ratios against them are fair.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class LetterboxInfo:
    """What the reference letterbox did: per-axis gains and integer pads (left, top)."""

    gain_x: float
    gain_y: float
    pad_x: int
    pad_y: int
    src_h: int
    src_w: int


def letterbox_reference(frame: np.ndarray, size: int = 640) -> tuple[np.ndarray, LetterboxInfo]:
    """frame: uint8[H, W, 3] BGR -> (float32[3, size, size] RGB /255, LetterboxInfo).

    The usual cv2/numpy pipeline: resize INTER_LINEAR + copyMakeBorder(114) + cvtColor BGR2RGB +
    astype(float32) / 255 + transpose + ascontiguousarray.
    """
    import cv2

    h, w = frame.shape[:2]
    r = min(size / h, size / w)
    new_w, new_h = max(1, round(w * r)), max(1, round(h * r))
    dw, dh = (size - new_w) / 2, (size - new_h) / 2
    img = frame if (new_w, new_h) == (w, h) else cv2.resize(frame, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    top, bottom = round(dh - 0.1), round(dh + 0.1)
    left, right = round(dw - 0.1), round(dw + 0.1)
    img = cv2.copyMakeBorder(img, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(114, 114, 114))
    img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    x = np.ascontiguousarray((img.astype(np.float32) / 255.0).transpose(2, 0, 1))
    return x, LetterboxInfo(new_w / w, new_h / h, left, top, h, w)


def _candidates(raw: np.ndarray, conf: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """raw: float32[4+nc, N] -> (cxcywh float32[K, 4], scores float32[K], class ids int32[K])."""
    cls = raw[4:]
    best = cls.max(axis=0)
    idx = np.flatnonzero(best > conf)
    ids = cls[:, idx].argmax(axis=0).astype(np.int32)
    return raw[:4, idx].T, best[idx], ids


def _to_image(xyxy: np.ndarray, info: LetterboxInfo) -> np.ndarray:
    out = (xyxy - np.array([info.pad_x, info.pad_y, info.pad_x, info.pad_y], np.float32)) / np.array(
        [info.gain_x, info.gain_y, info.gain_x, info.gain_y], np.float32)
    np.clip(out[:, 0::2], 0, info.src_w, out=out[:, 0::2])
    np.clip(out[:, 1::2], 0, info.src_h, out=out[:, 1::2])
    return out


def decode_reference(raw: np.ndarray, infos: list[LetterboxInfo], conf: float = 0.25, iou: float = 0.7,
                     max_det: int = 300) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """raw: float32[B, 4+nc, N] YOLOv8 head -> per image (xyxy float32[K, 4], scores, class ids):
    numpy decode + ``cv2.dnn.NMSBoxesBatched`` (class-aware) + mapping back to image pixels."""
    import cv2

    results = []
    for b, info in enumerate(infos):
        cxcywh, scores, ids = _candidates(raw[b], conf)
        if len(scores) == 0:
            results.append((np.zeros((0, 4), np.float32), scores, ids))
            continue
        xywh = cxcywh.copy()
        xywh[:, :2] -= xywh[:, 2:] / 2
        keep = np.asarray(cv2.dnn.NMSBoxesBatched(xywh, scores, ids, conf, iou), dtype=np.int64).reshape(-1)
        keep = keep[:max_det]
        xyxy = xywh[keep].copy()
        xyxy[:, 2:] += xyxy[:, :2]
        results.append((_to_image(xyxy, info), scores[keep], ids[keep]))
    return results


def torchvision_available() -> bool:
    try:
        import torch  # noqa: F401
        import torchvision  # noqa: F401
    except ImportError:
        return False
    return True


def decode_torchvision(raw: np.ndarray, infos: list[LetterboxInfo], conf: float = 0.25, iou: float = 0.7,
                       max_det: int = 300) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """As ``decode_reference`` with ``torchvision.ops.batched_nms`` (CPU tensors) for the NMS."""
    import torch
    from torchvision.ops import batched_nms

    results = []
    for b, info in enumerate(infos):
        cxcywh, scores, ids = _candidates(raw[b], conf)
        xyxy = np.concatenate([cxcywh[:, :2] - cxcywh[:, 2:] / 2, cxcywh[:, :2] + cxcywh[:, 2:] / 2], axis=1)
        keep = batched_nms(torch.from_numpy(xyxy), torch.from_numpy(scores), torch.from_numpy(ids), iou)
        keep = keep[:max_det].numpy()
        results.append((_to_image(xyxy[keep], info), scores[keep], ids[keep]))
    return results


class ReferencePipeline:
    """Hand-written onnxruntime + OpenCV detector on the same model and the same session options
    as fastdet's CPU backend: ``letterbox_reference`` -> ``session.run`` -> ``decode_reference``.

    ``timings`` holds the nanoseconds per stage of the last call, as ``Detector.timings`` does.
    Input: a list of uint8[H, W, 3] BGR frames (one run per frame when the model's batch is static).
    """

    def __init__(self, model: str | Path, conf: float = 0.25, iou: float = 0.7, max_det: int = 300,
                 threads: int | None = None) -> None:
        import onnxruntime as ort

        from fastdet.backends.onnxruntime_cpu import session_options

        self.session = ort.InferenceSession(str(model), session_options(threads), providers=["CPUExecutionProvider"])
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.size = int(inp.shape[2]) if isinstance(inp.shape[2], int) else 640
        self.static_batch = inp.shape[0] if isinstance(inp.shape[0], int) else None
        self.conf, self.iou, self.max_det = conf, iou, max_det
        self.timings: dict[str, int] = {}

    def __call__(self, frames: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        step = self.static_batch or len(frames)
        pre = infer = post = 0
        results: list[Any] = []
        for start in range(0, len(frames), step):
            t0 = time.perf_counter_ns()
            lb = [letterbox_reference(f, self.size) for f in frames[start:start + step]]
            x = np.stack([t for t, _ in lb])
            t1 = time.perf_counter_ns()
            raw = self._infer(x)
            t2 = time.perf_counter_ns()
            results += decode_reference(raw, [i for _, i in lb], self.conf, self.iou, self.max_det)
            t3 = time.perf_counter_ns()
            pre += t1 - t0
            infer += t2 - t1
            post += t3 - t2
        self.timings = {"preprocess": pre, "inference": infer, "postprocess": post}
        return results

    def _infer(self, x: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: x})[0]
