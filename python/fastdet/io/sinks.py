"""Writers for ``fastdet detect``'s outputs, each taking one ``StreamItem`` at a time and writing
it at once (a crash or Ctrl-C loses nothing already written)."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any, TextIO

from ..errors import InputError
from ..stream import StreamItem
from .opencv import cv2
from .records import CSV_HEADER, csv_rows, jsonl_record, yolo_lines


class JsonlSink:
    """One JSON object per frame, one line each, flushed as it goes."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def write(self, item: StreamItem) -> None:
        record = jsonl_record(item.source, item.source_frame, item.timestamp_ms, item.detections)
        self.out.write(json.dumps(record, separators=(",", ":")) + "\n")
        self.out.flush()

    def close(self) -> None:
        self.out.flush()


class CsvSink:
    """A header, then one row per box, flushed after each frame."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.writer = csv.writer(out, lineterminator="\n")
        self.writer.writerow(CSV_HEADER)

    def write(self, item: StreamItem) -> None:
        self.writer.writerows(csv_rows(item.source, item.source_frame, item.timestamp_ms, item.detections))
        self.out.flush()

    def close(self) -> None:
        self.out.flush()


class YoloTxtSink:
    """YOLO label files in ``folder``: ``<stem>.txt`` per image, ``<stem>_<frame:06d>.txt`` per video
    frame (an empty file for a frame with nothing in it). Two sources with the same stem get
    ``<stem>-2``... rather than overwriting each other."""

    def __init__(self, folder: Path, *, with_conf: bool = False) -> None:
        self.folder = folder
        self.with_conf = with_conf
        self._stems: dict[str, str] = {}
        self._used: set[str] = set()

    def _stem(self, source: str) -> str:
        stem = self._stems.get(source)
        if stem is None:
            base = Path(source).stem if os.path.exists(source) else safe_stem(source)
            stem, n = base, 1
            while stem.lower() in self._used:
                n += 1
                stem = f"{base}-{n}"
            self._used.add(stem.lower())
            self._stems[source] = stem
        return stem

    def write(self, item: StreamItem) -> None:
        stem = self._stem(item.source)
        still = item.timestamp_ms is None and item.source_frame == 0
        name = f"{stem}.txt" if still else f"{stem}_{item.source_frame:06d}.txt"
        lines = yolo_lines(item.detections, with_conf=self.with_conf)
        (self.folder / name).write_text("".join(line + "\n" for line in lines), encoding="utf-8")

    def close(self) -> None:
        pass


class VideoSink:
    """The annotated frames of one source as a video file (codec from the suffix: mp4v for .mp4
    / .mov / .m4v, MJPG for .avi, XVID otherwise), opened at the first frame's size."""

    FOURCC = {".mp4": "mp4v", ".mov": "mp4v", ".m4v": "mp4v", ".avi": "MJPG"}

    def __init__(self, path: Path, fps: float) -> None:
        self.path = path
        self.fps = fps if fps and fps > 0 else 30.0
        self.frames = 0
        self._writer: Any = None

    def write(self, item: StreamItem) -> None:
        image = item.detections.plot(item.frame, rgb=item.rgb)
        if item.rgb:
            image = image[:, :, ::-1]
        if self._writer is None:
            cv = cv2()
            h, w = image.shape[:2]
            fourcc = cv.VideoWriter_fourcc(*self.FOURCC.get(self.path.suffix.lower(), "XVID"))
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = cv.VideoWriter(str(self.path), fourcc, self.fps, (w, h))
            if not self._writer.isOpened():
                raise InputError(f"--save {str(self.path)!r}: OpenCV cannot write this video (a writable path "
                                 "ending in .mp4 or .avi?)")
            self._size = (h, w)
        if image.shape[:2] != self._size:  # a video has one size: scale a differing frame to it
            image = cv2().resize(image, (self._size[1], self._size[0]))
        self._writer.write(image)
        self.frames += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None


def safe_stem(name: str) -> str:
    """A file-name stem for a camera or URL source ("camera 0" -> "camera_0")."""
    keep = "".join(c if c.isalnum() or c in "-_." else "_" for c in name.rsplit("/", 1)[-1] or name)
    return keep.strip("._") or "stream"
