"""Serialised-engine cache: built once per (model, runtime, GPU, precision, shapes), reused after.

Pure Python and independent of TensorRT: the caller passes a ``build`` callable that returns the
engine's bytes. An entry is one file ``<digest>.engine`` laid out as

    b"FASTDET-ENGINE\\n" | uint32 little-endian header length | header JSON | engine bytes

where the header holds the full key and the sha256 and size of the engine bytes. On load a
truncated or garbage file, or a header whose key differs from the one asked for, is reported
(warning) and rebuilt, never trusted. Writes go to a temporary file in the same folder and are
renamed into place (``os.replace``), so a crash never leaves half an engine under the final name.
Concurrent builders of one key serialise on ``<digest>.lock`` (an advisory lock): the second waits,
then finds and reuses the first one's engine.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import struct
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterator

from .errors import EngineError
from .private_files import private_dir, read_trusted, write_atomic

log = logging.getLogger("fastdet")

MAGIC = b"FASTDET-ENGINE\n"
_LEN = struct.Struct("<I")
_MAX_HEADER = 1 << 20

#: (min, opt, max) shapes of one input of an optimisation profile.
ProfileShapes = tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]


def default_cache_dir() -> Path:
    """$FASTDET_CACHE, else $XDG_CACHE_HOME/fastdet, else ~/.cache/fastdet."""
    explicit = os.environ.get("FASTDET_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "fastdet"


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class CacheKey:
    """Everything a serialised engine depends on; any change means another engine.

    model_sha256: hash of the ONNX file's bytes. runtime_version: the TensorRT version that builds
    and loads it. gpu: device name and compute capability, e.g. "NVIDIA H100 (sm_90)".
    precision: "fp16" or "fp32". profile: input name -> (min, opt, max) shapes.
    fastdet_version: the builder code's version (its build settings may change between releases).
    """

    model_sha256: str
    runtime_version: str
    gpu: str
    precision: str
    profile: tuple[tuple[str, ProfileShapes], ...]
    fastdet_version: str

    def as_json(self) -> dict:
        d = asdict(self)
        d["profile"] = [[name, [list(s) for s in shapes]] for name, shapes in self.profile]
        return d

    @property
    def digest(self) -> str:
        text = json.dumps(self.as_json(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class CachedEngine:
    """data: the serialised engine. path: where it is cached. built: True when built by this call."""

    data: bytes
    path: Path
    built: bool


class CorruptEntry(Exception):
    """A cache file that cannot be trusted; the message says what is wrong with it."""


def encode(key: CacheKey, data: bytes) -> bytes:
    header = json.dumps({"key": key.as_json(), "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)},
                        sort_keys=True).encode()
    return MAGIC + _LEN.pack(len(header)) + header + data


def decode(key: CacheKey, blob: bytes) -> bytes:
    """Returns the engine bytes of a cache file's content; raises CorruptEntry when it is not valid for key."""
    if not blob.startswith(MAGIC):
        raise CorruptEntry("not a fastdet engine file (bad magic)")
    pos = len(MAGIC)
    if len(blob) < pos + _LEN.size:
        raise CorruptEntry("truncated header")
    (n,) = _LEN.unpack_from(blob, pos)
    pos += _LEN.size
    if n > _MAX_HEADER or len(blob) < pos + n:
        raise CorruptEntry("truncated header")
    try:
        header = json.loads(blob[pos : pos + n])
        stored_key, digest, size = header["key"], header["sha256"], int(header["size"])
    except (ValueError, KeyError, TypeError) as e:
        raise CorruptEntry(f"unreadable header ({e})") from None
    if stored_key != key.as_json():
        raise CorruptEntry("built for another key")
    data = blob[pos + n :]
    if len(data) != size:
        raise CorruptEntry(f"engine is {len(data)} bytes, header says {size} (truncated?)")
    if hashlib.sha256(data).hexdigest() != digest:
        raise CorruptEntry("engine bytes do not match their checksum")
    return data


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Holds an exclusive advisory lock on ``path`` (created if needed), blocking until it is free."""
    with open(path, "a+b") as f:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            import msvcrt

            f.seek(0)
            msvcrt.locking(f.fileno(), msvcrt.LK_LOCK, 1)
            try:
                yield
            finally:
                f.seek(0)
                msvcrt.locking(f.fileno(), msvcrt.LK_UNLCK, 1)
            return
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


class EngineCache:
    """A folder of serialised engines (default: ``default_cache_dir()``)."""

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        """The folder is created 0700 on first write; one that another user owns or can write is
        refused (``UnsafeCacheError``): engines are code."""
        self.directory = Path(directory).expanduser() if directory is not None else default_cache_dir()

    def path_for(self, key: CacheKey) -> Path:
        return self.directory / f"{key.digest}.engine"

    def _read(self, key: CacheKey) -> tuple[bytes | None, str | None]:
        """(engine bytes, None) when a valid entry exists, (None, None) when there is none,
        (None, problem) when the file is there but cannot be trusted."""
        if not self.directory.exists():
            return None, None
        private_dir(self.directory, "engine cache folder")
        try:
            blob = read_trusted(self.path_for(key), "cached engine")
        except FileNotFoundError:
            return None, None
        try:
            return decode(key, blob), None
        except CorruptEntry as e:
            return None, str(e)

    def load(self, key: CacheKey) -> bytes | None:
        """The cached engine for ``key``, or None (with a warning when the file is corrupt)."""
        data, problem = self._read(key)
        if problem:
            log.warning("engine cache %s: %s; it will be rebuilt", self.path_for(key), problem)
        return data

    def store(self, key: CacheKey, data: bytes) -> Path:
        """Writes the entry atomically (temporary file + rename in the same folder, mode 0600)."""
        private_dir(self.directory, "engine cache folder")
        return write_atomic(self.path_for(key), encode(key, data))

    def discard(self, key: CacheKey) -> None:
        """Removes the entry (e.g. the runtime refused to deserialise it)."""
        with contextlib.suppress(FileNotFoundError):
            self.path_for(key).unlink()

    def get_or_build(self, key: CacheKey, build: Callable[[], bytes]) -> CachedEngine:
        """The cached engine for ``key``; else runs ``build()`` once (across threads and processes
        sharing this folder), stores its bytes and returns them."""
        data, _ = self._read(key)
        if data is not None:
            return CachedEngine(data, self.path_for(key), built=False)
        private_dir(self.directory, "engine cache folder")
        with _locked(self.directory / f"{key.digest}.lock"):
            # Another builder may have finished while we waited for the lock.
            data, problem = self._read(key)
            if data is not None:
                return CachedEngine(data, self.path_for(key), built=False)
            if problem:
                log.warning("engine cache %s: %s; rebuilding it", self.path_for(key), problem)
            data = build()
            if not isinstance(data, (bytes, bytearray, memoryview)) or len(data) == 0:
                raise EngineError("engine build returned no engine bytes")
            data = bytes(data)
            return CachedEngine(data, self.store(key, data), built=True)
