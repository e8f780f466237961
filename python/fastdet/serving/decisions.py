"""Every routing decision as one JSON line: who asked, which model and version answered, the rule
that chose it, the status and the latency. Shadow comparisons are lines of their own.

The lines go to the router's ``fastdet.decisions.ROUTER`` logger, printed as bare JSON (no log prefix) on the
server's standard output, or appended to ``decision_log`` when the router's settings name a file,
so a log shipper can parse them as they are.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

LOGGER = "fastdet.decisions"
_HANDLER_NAME = "fastdet-decisions"


def logger(path: Path | None = None, router: str = "") -> logging.Logger:
    """The decisions logger of one router (``fastdet.decisions.ROUTER``), with one handler: stdout,
    or the file at ``path``. Each router has its own, so the lines of one never reach another's
    file when several routers share a process."""
    log = logging.getLogger(f"{LOGGER}.{router}" if router else LOGGER)
    log.setLevel(logging.INFO)
    log.propagate = False
    name = f"{_HANDLER_NAME}:{path or '-'}"
    for old in [h for h in log.handlers if h.get_name() != name]:  # a reload with another file
        log.removeHandler(old)
        old.close()
    if not log.handlers:
        handler: logging.Handler = logging.FileHandler(path) if path else logging.StreamHandler(sys.stdout)
        handler.set_name(name)
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
    return log


def write(log: logging.Logger, event: str, **fields: Any) -> None:
    """One line: {"ts", "event", ...fields} (fields that are None are left out)."""
    line = {"ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{int(time.time() * 1000) % 1000:03d}Z",
            "event": event}
    line.update((k, v) for k, v in fields.items() if v is not None)
    log.info(json.dumps(line, separators=(",", ":")))
