"""Engine cache: keys, atomic writes, corrupt entries, concurrent builders (no TensorRT needed:
the cache takes a build callable returning bytes)."""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import os
import threading
import time
from pathlib import Path

import pytest

from fastdet import engine_cache
from fastdet.engine_cache import CacheKey, EngineCache

PROFILE = (("images", ((1, 3, 640, 640), (8, 3, 640, 640), (32, 3, 640, 640))),)


def make_key(**changes) -> CacheKey:
    base = CacheKey(model_sha256="ab" * 32, runtime_version="10.13.0", gpu="NVIDIA H100 (sm_90)",
                    precision="fp16", profile=PROFILE, fastdet_version="0.1.0")
    return dataclasses.replace(base, **changes)


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("FASTDET_CACHE", str(tmp_path / "explicit"))
    assert engine_cache.default_cache_dir() == tmp_path / "explicit"
    monkeypatch.delenv("FASTDET_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert engine_cache.default_cache_dir() == tmp_path / "xdg" / "fastdet"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert engine_cache.default_cache_dir() == Path.home() / ".cache" / "fastdet"


def test_file_sha256(tmp_path):
    p = tmp_path / "m.onnx"
    p.write_bytes(b"abc")
    assert engine_cache.file_sha256(p) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


@pytest.mark.parametrize("change", [
    {"model_sha256": "cd" * 32},
    {"runtime_version": "10.14.1"},
    {"gpu": "NVIDIA H100 (sm_89)"},
    {"gpu": "NVIDIA L4 (sm_90)"},
    {"precision": "fp32"},
    {"profile": (("images", ((1, 3, 640, 640), (8, 3, 640, 640), (16, 3, 640, 640))),)},
    {"profile": (("input", ((1, 3, 640, 640), (8, 3, 640, 640), (32, 3, 640, 640))),)},
    {"fastdet_version": "0.2.0"},
])
def test_every_key_component_changes_the_key(change, tmp_path):
    a, b = make_key(), make_key(**change)
    assert a.digest != b.digest
    cache = EngineCache(tmp_path)
    assert cache.path_for(a) != cache.path_for(b)


def test_same_key_same_digest():
    assert make_key().digest == make_key().digest


def test_build_once_then_reuse(tmp_path):
    cache = EngineCache(tmp_path)
    calls = []

    def build():
        calls.append(1)
        return b"engine-bytes"

    first = cache.get_or_build(make_key(), build)
    again = cache.get_or_build(make_key(), build)
    assert (first.built, again.built) == (True, False)
    assert first.data == again.data == b"engine-bytes"
    assert first.path == again.path == tmp_path / f"{make_key().digest}.engine"
    assert len(calls) == 1
    # another precision is another engine
    assert cache.get_or_build(make_key(precision="fp32"), build).built
    assert len(calls) == 2


def test_store_is_atomic(tmp_path, monkeypatch):
    cache = EngineCache(tmp_path)
    key = make_key()
    cache.store(key, b"old-engine")

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(engine_cache.os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        cache.store(key, b"new-engine")
    monkeypatch.undo()
    # the old entry is intact and no temporary file is left behind
    assert cache.load(key) == b"old-engine"
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{key.digest}.engine"]


def test_failed_build_leaves_nothing(tmp_path):
    cache = EngineCache(tmp_path)

    def build():
        raise RuntimeError("parser error")

    with pytest.raises(RuntimeError, match="parser error"):
        cache.get_or_build(make_key(), build)
    assert not cache.path_for(make_key()).exists()
    with pytest.raises(RuntimeError, match="no engine bytes"):
        cache.get_or_build(make_key(), lambda: b"")


def _corrupt(kind: str, path: Path) -> None:
    blob = path.read_bytes()
    if kind == "truncated":
        path.write_bytes(blob[:-5])
    elif kind == "truncated-header":
        path.write_bytes(blob[:20])
    elif kind == "garbage":
        path.write_bytes(os.urandom(len(blob)))
    elif kind == "flipped-byte":
        path.write_bytes(blob[:-1] + bytes([blob[-1] ^ 0xFF]))
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "bad-json":
        path.write_bytes(engine_cache.MAGIC + engine_cache._LEN.pack(3) + b"{x}" + b"engine")
    elif kind == "other-key":
        path.write_bytes(engine_cache.encode(make_key(precision="fp32"), b"engine-bytes"))


@pytest.mark.parametrize("kind", ["truncated", "truncated-header", "garbage", "flipped-byte", "empty",
                                  "bad-json", "other-key"])
def test_corrupt_entry_is_rebuilt_with_a_warning(kind, tmp_path, caplog):
    cache = EngineCache(tmp_path)
    key = make_key()
    cache.get_or_build(key, lambda: b"engine-bytes")
    _corrupt(kind, cache.path_for(key))

    assert cache.load(key) is None  # never trusted
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="fastdet"):
        again = cache.get_or_build(key, lambda: b"rebuilt-bytes")
    assert again.built and again.data == b"rebuilt-bytes"
    assert any("rebuilding" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)
    assert cache.load(key) == b"rebuilt-bytes"


def test_discard(tmp_path):
    cache = EngineCache(tmp_path)
    key = make_key()
    cache.store(key, b"x")
    cache.discard(key)
    cache.discard(key)  # missing is fine
    assert cache.load(key) is None


def test_threads_building_one_key_build_once(tmp_path):
    cache = EngineCache(tmp_path)
    key = make_key()
    calls = []
    results = []
    start = threading.Barrier(4)

    def build():
        calls.append(threading.get_ident())
        time.sleep(0.2)  # long enough that the others reach the lock meanwhile
        return b"engine-from-first-builder"

    def worker():
        start.wait()
        results.append(cache.get_or_build(key, build))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert [r.data for r in results] == [b"engine-from-first-builder"] * 4
    assert sum(r.built for r in results) == 1


def _process_builder(directory: str, marker_dir: str, queue) -> None:
    cache = EngineCache(directory)

    def build():
        Path(marker_dir, f"built-{os.getpid()}").touch()
        time.sleep(0.3)
        return f"engine-from-{os.getpid()}".encode()

    queue.put(cache.get_or_build(make_key(), build).data)


def test_processes_building_one_key_build_once(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    markers = tmp_path / "markers"
    markers.mkdir()
    procs = [ctx.Process(target=_process_builder, args=(str(tmp_path / "cache"), str(markers), queue))
             for _ in range(3)]
    for p in procs:
        p.start()
    got = [queue.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert len(list(markers.iterdir())) == 1
    assert len(set(got)) == 1
