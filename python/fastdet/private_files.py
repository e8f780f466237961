"""Files fastdet writes for itself and later trusts: compiled engines, timing caches, registries.

A TensorRT engine is machine code for the GPU (and its plugins native libraries): loading one that
another user could have written is running their code. So a cache folder is created 0700 whatever
the umask, files are written 0600 by an atomic rename, and a folder or file that is not owned by
this user, or that group or others can write, is refused with ``UnsafeCacheError`` — not used, and
not silently "fixed" (the process cannot know what was written while it was open).

The one atomic write of the project lives here too.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

from .errors import UnsafeCacheError

_POSIX = hasattr(os, "getuid")


def check_trusted(path: Path, what: str) -> None:
    """Raises UnsafeCacheError unless ``path`` (file or folder, not followed if a symlink) is owned
    by this user and not writable by group or others. A no-op where there are no POSIX owners."""
    if not _POSIX:
        return
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        raise UnsafeCacheError(f"{what} {str(path)!r} is a symbolic link; fastdet uses only real folders and files")
    if st.st_uid != os.getuid():
        raise UnsafeCacheError(f"{what} {str(path)!r} belongs to another user (uid {st.st_uid}); refusing to use it")
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise UnsafeCacheError(f"{what} {str(path)!r} is writable by group or others (mode {stat.S_IMODE(st.st_mode):o}); "
                               f"refusing to use it (make it private: chmod go-w)")


def private_dir(path: Path, what: str = "cache folder") -> Path:
    """Creates ``path`` (and parents) with mode 0700 when missing; checks it is trusted either way."""
    if not path.exists():
        path.mkdir(parents=True, exist_ok=True)
        if _POSIX:
            os.chmod(path, 0o700)  # mkdir's mode is filtered by the umask
    check_trusted(path, what)
    return path


def read_trusted(path: Path, what: str = "cache file") -> bytes:
    """The bytes of ``path`` after checking it and its folder are trusted (FileNotFoundError passes)."""
    check_trusted(path.parent, "cache folder")
    with open(path, "rb") as f:
        if _POSIX:
            st = os.fstat(f.fileno())
            if st.st_uid != os.getuid() or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                check_trusted(path, what)  # raises with the reason
        return f.read()


def write_atomic(path: Path, data: bytes) -> Path:
    """Writes ``data`` to ``path`` (mode 0600) through a temporary file in the same folder and a
    rename, so readers see the old file or the new one, never half of one."""
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)  # created 0600
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path
