"""Small videos written in the tests themselves (OpenCV's MJPG in AVI: lossy but deterministic,
and decodable by every OpenCV build with FFmpeg)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def grey_frames(n: int, h: int = 48, w: int = 64) -> list[np.ndarray]:
    """n frames getting brighter (the tiny test models score by brightness), with a dark square
    moving across so that no two frames are alike."""
    out = []
    for i in range(n):
        f = np.full((h, w, 3), 70 + (150 * i) // max(n - 1, 1), np.uint8)
        x = (i * 3) % (w - 8)
        f[8:16, x:x + 8] = 20
        out.append(f)
    return out


def write_video(path: Path, frames: list[np.ndarray], fps: float = 10.0) -> Path:
    import cv2

    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    assert writer.isOpened()
    for f in frames:
        writer.write(f)
    writer.release()
    return path


def decoded_frames(path: Path) -> list[np.ndarray]:
    """Every frame of a video as OpenCV decodes it (what a stream of it must detect on)."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    out = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        out.append(f)
    cap.release()
    return out
