"""The one ``openvino.Core`` of the process, shared by every fastdet use of OpenVINO.

Why one: OpenVINO's CPU plugin (one per Core) replaces the signal stack of the thread that
creates it (``sigaltstack``, sized for AMX state) and, when the Core goes, unmaps that stack and
puts back the one it found — but only if its own is still current. Two Cores dropped in the order
they were made (or a Core dropped by another thread, e.g. the garbage collector's) leave the
creating thread's signal stack pointing at unmapped memory, and the next signal delivered to that
thread — Ctrl-C, a server's SIGTERM — kills the process with SIGSEGV instead of raising
KeyboardInterrupt. One Core that lives as long as the process never hands back a stack, so that
cannot happen. (Compiled models take their settings per call; nothing is set on the Core.)
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["shared_core"]

_lock = threading.Lock()
_core: Any = None


def shared_core() -> Any:
    """The process's ``openvino.Core``, made on first use (imports openvino)."""
    global _core
    with _lock:
        if _core is None:
            import openvino as ov

            _core = ov.Core()
        return _core
