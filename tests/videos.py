"""Small videos written in the tests themselves (OpenCV's MJPG in AVI: lossy but deterministic,
and decodable by every OpenCV build with FFmpeg)."""

from __future__ import annotations

import functools
import http.server
import threading
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


class VideoServer:
    """Serves one video over HTTP for the first ``passes`` requests (OpenCV's FFmpeg makes one per
    open), then answers 404: a stream that plays ``passes`` times, dropping in between, and then
    never comes back."""

    def __init__(self, video: Path, passes: int) -> None:
        served: list[str] = []

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                if len(served) >= passes:
                    self.send_error(404)
                    return
                served.append(self.path)
                super().do_GET()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                      functools.partial(Handler, directory=str(video.parent)))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/{video.name}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
