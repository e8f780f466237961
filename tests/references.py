"""Independent references the native core is checked against: OpenCV/numpy letterbox,
ultralytics' geometry formula, and numpy greedy NMS with the class-offset trick."""

from __future__ import annotations

import cv2
import numpy as np


def ultralytics_geometry(h: int, w: int, H: int, W: int) -> tuple[int, int, int, int]:
    """(new_w, new_h, left, top) as ultralytics LetterBox(auto=False) computes them."""
    r = min(H / h, W / w)
    # ultralytics would hand cv2.resize a 0 size for extreme aspect ratios; fastdet keeps >= 1.
    new_w, new_h = max(1, int(round(w * r))), max(1, int(round(h * r)))
    dw, dh = (W - new_w) / 2, (H - new_h) / 2
    return new_w, new_h, int(round(dw - 0.1)), int(round(dh - 0.1))


def recipe_divisor(scale: float) -> np.float32:
    """The documented divisor of a recipe's scale: n where float32(scale) == float32(1 / n), else
    float32(1 / scale) (1/255 -> 255, not the 254.99998 that float32(1/255)'s reciprocal rounds to)."""
    s = np.float32(scale)
    n = round(1.0 / float(s))
    if n != 0 and np.float32(1.0 / n) == s:
        return np.float32(n)
    return np.float32(1.0 / float(s))


def reference_letterbox(img, H, W, *, placement="center", pad=114.0, scale=1 / 255, mean=(0, 0, 0),
                        std=(1, 1, 1), output_rgb=True, input_rgb=False):
    """cv2.resize(INTER_LINEAR) + pad + channel order + the recipe's float formula + CHW.

    img: uint8[h, w, 3|4] (any strides). Values: ``(pixel / recipe_divisor(scale) - mean[c]) / std[c]``
    in float32: ultralytics' ``/ 255`` and torchvision's ToTensor + Normalize. Returns float32[3, H, W].
    """
    img = img[:, :, :3]
    h, w = img.shape[:2]
    if placement == "stretch":
        nw, nh, left, top = W, H, 0, 0
    elif placement == "top_left":
        r = min(H / h, W / w)
        nw, nh, left, top = max(1, int(w * r)), max(1, int(h * r)), 0, 0
    else:
        nw, nh, left, top = ultralytics_geometry(h, w, H, W)
    if (nw, nh) != (w, h):
        img = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_LINEAR).reshape(nh, nw, 3)
    canvas = np.full((H, W, 3), pad, dtype=np.float32)
    canvas[top:top + nh, left:left + nw] = img
    if output_rgb != input_rgb:
        canvas = canvas[:, :, ::-1]
    divisor = recipe_divisor(scale)
    out = (canvas / divisor - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return np.ascontiguousarray(out.transpose(2, 0, 1), dtype=np.float32)


def greedy_nms(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray | None, iou: float) -> np.ndarray:
    """Exact greedy NMS in float64, classes separated by the coordinate-offset trick.
    Order: descending score, ties by index (stable). Returns kept indices."""
    b = boxes.astype(np.float64)
    if classes is not None and len(b):
        offset = (np.abs(b).max() + 1.0) * 2.0
        b = b + (classes.astype(np.float64) * offset)[:, None]
    order = np.argsort(-scores, kind="stable")
    areas = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    suppressed = np.zeros(len(b), dtype=bool)
    keep = []
    for pos, i in enumerate(order):
        if suppressed[i]:
            continue
        keep.append(i)
        rest = order[pos + 1:]
        xx1 = np.maximum(b[i, 0], b[rest, 0])
        yy1 = np.maximum(b[i, 1], b[rest, 1])
        xx2 = np.minimum(b[i, 2], b[rest, 2])
        yy2 = np.minimum(b[i, 3], b[rest, 3])
        inter = np.clip(xx2 - xx1, 0, None) * np.clip(yy2 - yy1, 0, None)
        union = areas[i] + areas[rest] - inter
        with np.errstate(invalid="ignore", divide="ignore"):
            ovr = np.where(union > 0, inter / union, 0.0)
        suppressed[rest[ovr > iou]] = True
    return np.asarray(keep, dtype=np.int64)


def reference_decode(out, fmt, geometry, *, conf=0.25, iou=0.7, max_det=300, max_candidates=30000,
                     agnostic=False, classes=None, strides=(8, 16, 32), input_hw=(640, 640)):
    """Numpy decode of one image's raw output + greedy NMS + mapping back (ultralytics semantics)."""
    f32 = np.float32
    if fmt == "yolov8":
        p = out.T
        cls_scores = p[:, 4:]
        cls = cls_scores.argmax(1)
        score = cls_scores.max(1)
        cx, cy, w, h = p[:, 0], p[:, 1], p[:, 2], p[:, 3]
        valid = score > conf
    elif fmt in ("yolov5", "yolox"):
        p = out
        obj = p[:, 4]
        cls = p[:, 5:].argmax(1)
        score = obj * p[:, 5:].max(1)
        valid = (obj > conf) & (score > conf)
        cx, cy, w, h = p[:, 0], p[:, 1], p[:, 2], p[:, 3]
        if fmt == "yolox":
            grids, ss = [], []
            H, W = input_hw
            for s in strides:
                gy, gx = np.meshgrid(np.arange(H // s), np.arange(W // s), indexing="ij")
                grids.append(np.stack([gx.ravel(), gy.ravel()], 1))
                ss.append(np.full(gx.size, s))
            g = np.concatenate(grids).astype(f32)
            s = np.concatenate(ss).astype(f32)
            cx, cy = (cx + g[:, 0]) * s, (cy + g[:, 1]) * s
            w, h = np.exp(w) * s, np.exp(h) * s
    else:  # end2end
        p = out
        score = p[:, 4]
        cls = p[:, 5].astype(np.int64)
        valid = score > conf
        boxes = p[:, :4].astype(f32)
    if fmt != "end2end":
        half = f32(0.5)
        boxes = np.stack([cx - w * half, cy - h * half, cx + w * half, cy + h * half], 1).astype(f32)
    if classes is not None:
        valid &= np.isin(cls, classes)
    idx = np.nonzero(valid)[0]
    order = idx[np.argsort(-score[idx], kind="stable")]
    dropped = 0
    if fmt != "end2end" and len(order) > max_candidates:
        dropped = len(order) - max_candidates
        order = order[:max_candidates]
    if fmt == "end2end":
        kept = order[:max_det]
    else:
        k = greedy_nms(boxes[order], score[order].astype(np.float64), None if agnostic else cls[order], iou)
        kept = order[k[:max_det]]
    g = geometry
    b = boxes[kept].copy()
    b[:, [0, 2]] = np.clip((b[:, [0, 2]] - f32(g.pad_x)) / f32(g.gain_x), 0, g.src_w)
    b[:, [1, 3]] = np.clip((b[:, [1, 3]] - f32(g.pad_y)) / f32(g.gain_y), 0, g.src_h)
    return b, score[kept].astype(f32), cls[kept].astype(np.int32), len(idx), dropped
