"""The per-frame output formats of ``fastdet detect`` (users' scripts parse them: change with care).

- JSONL, one object per frame: ``{"source": str, "frame": int (0-based), "timestamp_ms": float or
  null, "width": int, "height": int, "detections": [{"box": [x1, y1, x2, y2], "score": float,
  "class_id": int, "name": str}]}``; boxes in original pixels; scores and coordinates rounded to
  4 decimals.
- CSV, one row per box: ``source,frame,timestamp_ms,x1,y1,x2,y2,score,class_id,name``.
- YOLO txt, one line per box: ``class cx cy w h`` normalised to [0, 1] (6 decimals), plus `` conf``
  when asked for.
"""

from __future__ import annotations

from typing import Any

from ..results import Detections

CSV_HEADER = ["source", "frame", "timestamp_ms", "x1", "y1", "x2", "y2", "score", "class_id", "name"]


def _r(value: float) -> float:
    return round(float(value), 4)


def jsonl_record(source: str, frame: int, timestamp_ms: float | None, dets: Detections) -> dict[str, Any]:
    h, w = dets.image_shape
    return {
        "source": source,
        "frame": int(frame),
        "timestamp_ms": None if timestamp_ms is None else _r(timestamp_ms),
        "width": int(w),
        "height": int(h),
        "detections": [{"box": [_r(b.x1), _r(b.y1), _r(b.x2), _r(b.y2)], "score": _r(b.score), "class_id": b.class_id,
                        "name": b.name} for b in dets],
    }


def csv_rows(source: str, frame: int, timestamp_ms: float | None, dets: Detections) -> list[list[Any]]:
    ts = "" if timestamp_ms is None else _r(timestamp_ms)
    return [[source, int(frame), ts, _r(b.x1), _r(b.y1), _r(b.x2), _r(b.y2), _r(b.score), b.class_id, b.name]
            for b in dets]


def yolo_lines(dets: Detections, *, with_conf: bool = False) -> list[str]:
    lines = []
    for (cx, cy, w, h), score, cls in zip(dets.xywhn.tolist(), dets.scores.tolist(), dets.class_ids.tolist()):
        line = f"{cls} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}"
        lines.append(f"{line} {score:.6f}" if with_conf else line)
    return lines
