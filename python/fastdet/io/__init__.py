"""Frame sources and result sinks for ``Detector.stream`` and ``fastdet detect``.

- ``open_source``: files, folders, globs, videos, cameras, network streams, arrays, PIL images,
  iterables -> a ``Source`` (``open``; one module per kind: ``images``, ``video``, ``live``,
  ``arrays``).
- ``records``: the per-frame JSONL, CSV and YOLO-txt formats; ``sinks``: writers for them and for
  annotated video.
"""

from __future__ import annotations

from .open import open_source
from .source import Source, SourceFailure, SourceFrame

__all__ = ["Source", "SourceFailure", "SourceFrame", "open_source"]
