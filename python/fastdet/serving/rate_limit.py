"""Token buckets shared by every process of a server (the router may run in several inference
workers, and MLServer may run several servers on one machine with one policy).

The buckets live in a small file, one slot of (tokens, time) per client; each take locks the file
(``flock``), reads the slot, refills it at the client's rate up to its burst, takes a token or not,
and writes it back: microseconds, with no server process to keep. The time is CLOCK_MONOTONIC,
which all processes of a machine share. Replicas on other machines keep their own buckets: give
each replica its share of the rate.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import struct
import tempfile
import time
from pathlib import Path
from typing import Sequence

from ..private_files import private_dir

_SLOT = struct.Struct("<dd")


class SharedBuckets:
    """One token bucket per name, in a file under ``folder`` (created private)."""

    def __init__(self, folder: Path, names: Sequence[str]) -> None:
        self.names = sorted(set(names))
        self._slot = {n: i for i, n in enumerate(self.names)}
        # A file per set of names, so a policy with other clients never reads another's slots.
        tag = hashlib.sha256("\n".join(self.names).encode()).hexdigest()[:16]
        private_dir(folder.parent, "rate limit folder")
        private_dir(folder, "rate limit folder")
        self.path = folder / f"buckets-{tag}.bin"
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        size = _SLOT.size * max(1, len(self.names))
        if os.fstat(self._fd).st_size < size:
            os.ftruncate(self._fd, size)

    def take(self, name: str, rate: float, burst: float, now: float | None = None) -> float:
        """Takes one token of ``name``'s bucket: 0.0 when granted, else the seconds until one is there."""
        now = time.monotonic() if now is None else now
        offset = self._slot[name] * _SLOT.size
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            tokens, stamp = _SLOT.unpack(os.pread(self._fd, _SLOT.size, offset))
            if stamp <= 0 or stamp > now:  # never used, or the clock restarted (a reboot)
                tokens, stamp = burst, now
            tokens = min(burst, tokens + (now - stamp) * rate)
            # (the epsilon: a token refilled over exactly 1/rate seconds must count, float sums or not)
            wait = 0.0 if tokens >= 1.0 - 1e-9 else (1.0 - tokens) / rate if rate > 0 else float("inf")
            if wait == 0.0:
                tokens = max(0.0, tokens - 1.0)
            os.pwrite(self._fd, _SLOT.pack(tokens, now), offset)
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        return wait

    def close(self) -> None:
        os.close(self._fd)


def default_folder(policy_path: Path) -> Path:
    """A private folder for the buckets of one policy file, the same for every process on this
    machine that serves with it."""
    tag = hashlib.sha256(str(policy_path.resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"fastdet-rate-{os.getuid()}" / tag
