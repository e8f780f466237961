"""Token buckets shared by every process of a server (the router may run in several inference
workers, and MLServer may run several servers on one machine with one policy).

The buckets live in small files, one per client name, each a slot of (tokens, time); each take
locks its client's file (``flock``), reads the slot, refills it at the client's rate up to its burst, takes a token or not,
and writes it back: microseconds, with no server process to keep. The time is CLOCK_MONOTONIC,
which all processes of a machine share. A client's bucket is found by its name alone, so editing
the policy (adding or removing other clients) refills nobody's bucket. Replicas on other machines keep their own buckets: give
each replica its share of the rate.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import struct
import tempfile
import threading
import time
from pathlib import Path

from ..private_files import private_dir

_SLOT = struct.Struct("<dd")


class SharedBuckets:
    """One token bucket per client name, each in its own file under ``folder`` (created private)."""

    def __init__(self, folder: Path) -> None:
        private_dir(folder.parent, "rate limit folder")
        self.folder = private_dir(folder, "rate limit folder")
        self._fds: dict[str, int] = {}
        self._lock = threading.Lock()

    def _fd(self, name: str) -> int:
        with self._lock:
            fd = self._fds.get(name)
            if fd is None:
                tag = hashlib.sha256(name.encode()).hexdigest()[:32]
                fd = os.open(self.folder / f"client-{tag}.bin", os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0),
                             0o600)
                if os.fstat(fd).st_size < _SLOT.size:
                    os.ftruncate(fd, _SLOT.size)  # zeros: a slot never used
                self._fds[name] = fd
            return fd

    def take(self, name: str, rate: float, burst: float, now: float | None = None) -> float:
        """Takes one token of ``name``'s bucket: 0.0 when granted, else the seconds until one is there."""
        fd, offset = self._fd(name), 0
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            # The time is read under the lock: read before it, a process that waited would see the
            # stamp of one that went first in its future and take it for a restarted clock.
            now = time.monotonic() if now is None else now
            tokens, stamp = _SLOT.unpack(os.pread(fd, _SLOT.size, offset))
            if stamp <= 0 or stamp > now:  # never used, or the clock restarted (a reboot)
                tokens, stamp = burst, now
            tokens = min(burst, tokens + (now - stamp) * rate)
            # (the epsilon: a token refilled over exactly 1/rate seconds must count, float sums or not)
            wait = 0.0 if tokens >= 1.0 - 1e-9 else (1.0 - tokens) / rate if rate > 0 else float("inf")
            if wait == 0.0:
                tokens = max(0.0, tokens - 1.0)
            os.pwrite(fd, _SLOT.pack(tokens, now), offset)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
        return wait

    def close(self) -> None:
        with self._lock:
            fds, self._fds = list(self._fds.values()), {}
        for fd in fds:
            os.close(fd)


def default_folder(policy_path: Path) -> Path:
    """A private folder for the buckets of one policy file, the same for every process on this
    machine that serves with it."""
    tag = hashlib.sha256(str(policy_path.resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"fastdet-rate-{os.getuid()}" / tag
