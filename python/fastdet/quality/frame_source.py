"""Frames for profiling and drift experiments: the images of a folder or split file, or the frames
of a video file (OpenCV), optionally a range ``START:STOP[:STEP]`` of them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import InputError

VIDEO_SUFFIXES = {".avi", ".mp4", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg"}


def parse_range(text: str | None) -> slice:
    """"100:500" / "0:400:2" / None -> a slice of frame indices."""
    if not text:
        return slice(None)
    try:
        parts = [int(p) if p.strip() else None for p in text.split(":")]
    except ValueError:
        raise InputError(f"--frames: expected START:STOP[:STEP] frame numbers, got {text!r}") from None
    if not 1 <= len(parts) <= 3 or any(p is not None and p < 0 for p in parts) or (len(parts) == 3 and parts[2] == 0):
        raise InputError(f"--frames: expected START:STOP[:STEP] with non-negative numbers, got {text!r}")
    return slice(*parts) if len(parts) > 1 else slice(parts[0], parts[0] + 1 if parts[0] is not None else None)


def is_video(path: str | os.PathLike[str]) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def video_frames(path: str | os.PathLike[str], frames: slice = slice(None)) -> Iterator[np.ndarray]:
    """uint8[H, W, 3] BGR frames of a video file, those of ``frames`` (indices in decode order)."""
    import cv2

    p = Path(path)
    if not p.is_file():
        raise InputError(f"video: no such file: {str(p)!r}")
    cap = cv2.VideoCapture(str(p))
    if not cap.isOpened():
        raise InputError(f"video: OpenCV cannot open {str(p)!r}")
    start, stop, step = frames.start or 0, frames.stop, frames.step or 1
    try:
        index = 0
        while stop is None or index < stop:
            ok, frame = cap.read()
            if not ok:
                break  # the end, or the first undecodable frame (containers overstate their length)
            if index >= start and (index - start) % step == 0:
                yield frame
            index += 1
    finally:
        cap.release()


def frames_of(source: str | os.PathLike[str], frames: slice = slice(None)) -> Iterator[np.ndarray]:
    """Frames of a video file, or of the images of a folder / split file (``frames`` selects)."""
    if is_video(source):
        yield from video_frames(source, frames)
        return
    from ..frames import read_image
    from .yolo_data import list_images

    for path in list_images(source)[frames]:
        frame = read_image(path)
        yield frame.pixels[:, :, ::-1].copy() if frame.rgb else frame.pixels
