"""Files fastdet writes for itself and later trusts: compiled engines, timing caches, registries.

A TensorRT engine is machine code for the GPU (and its plugins native libraries): loading one that
another user could have written is running their code. So a cache folder is created 0700 whatever
the umask, files are written 0600 by an atomic rename, and a folder or file that is not owned by
this user, or that group or others can write, is refused with ``UnsafeCacheError`` — not used, and
not silently "fixed" (the process cannot know what was written while it was open).

Files an operator provides (a server's policy, its internal key) are checked by the same rule
with one difference: root may own them, as Kubernetes mounts Secrets (``read_operator_file``).

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


def _operator_writers(st: os.stat_result, path: Path, what: str, error: type[Exception], folder: bool = False) -> None:
    """Only this user or root may own ``path``, and nobody else may write it. A folder others may
    write is accepted only with the sticky bit (as /tmp, and the tmpfs Kubernetes mounts Secrets
    on): there nobody can rename or replace an entry they do not own, and every entry followed is
    checked to belong to this user or root."""
    if st.st_uid not in (os.getuid(), 0):
        raise error(f"{what} {str(path)!r} belongs to another user (uid {st.st_uid}); refusing to use it")
    if stat.S_ISLNK(st.st_mode) or not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return
    if folder and st.st_mode & stat.S_ISVTX:
        return
    raise error(f"{what} {str(path)!r} is writable by group or others (mode {stat.S_IMODE(st.st_mode):o}); "
                f"refusing to use it (chmod go-w)")


def read_operator_file(path: Path, what: str, error: type[Exception] = UnsafeCacheError) -> bytes:
    """The bytes of a file an operator provides and fastdet trusts (a server's policy, its
    internal key): the file, its folder and every symbolic link on the way (Kubernetes mounts a
    Secret's files as links into ``..data``) must belong to this user or root and be writable by
    nobody else. Root's files are accepted
    because a Secret or ConfigMap is mounted root-owned and the server runs as another user; what
    is refused is a file another non-root user could have written. FileNotFoundError passes."""
    if not _POSIX:  # pragma: no cover - no POSIX owners
        return Path(path).read_bytes()
    name = Path(os.path.abspath(path))
    for _ in range(40):
        folder = Path(os.path.realpath(name.parent))
        _operator_writers(os.stat(folder), folder, f"the folder of the {what}", error, folder=True)
        entry = folder / name.name
        st = os.lstat(entry)
        _operator_writers(st, entry, what, error)
        if stat.S_ISLNK(st.st_mode):
            name = Path(os.path.abspath(folder / os.readlink(entry)))
            continue
        fd = os.open(entry, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as f:
            now = os.fstat(f.fileno())
            if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
                raise error(f"{what} {str(path)!r} was replaced while it was read")
            _operator_writers(now, entry, what, error)
            return f.read()
    raise error(f"{what} {str(path)!r}: too many symbolic links")


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
