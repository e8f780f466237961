"""OpenCV, imported where video is read, with the install hint when it is missing."""

from __future__ import annotations

from typing import Any


def cv2() -> Any:
    try:
        import cv2 as module
    except ImportError:
        raise ImportError("reading video and cameras needs OpenCV: pip install 'fastdet[cpu]' "
                          "(or opencv-python-headless)") from None
    return module
