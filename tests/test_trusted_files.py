"""Files fastdet loads are trusted only when they should be: the engine cache (engines are code)
and ONNX external data that would be read from outside the model's folder."""

from __future__ import annotations

import dataclasses
import os
import stat

import numpy as np
import onnx
import pytest

import fastdet
from fastdet.engine_cache import CacheKey, EngineCache
from fastdet.onnx_external_data import check_external_data, external_data_locations
from tiny_models import model_with_external_data, yolov8_like

posix_only = pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX owners and modes")
KEY = CacheKey(model_sha256="ab" * 32, runtime_version="10.13.0", gpu="GPU", precision="fp16",
               profile=(("images", ((1, 3, 64, 64),) * 3),), fastdet_version="0.1.0")


@posix_only
def test_cache_folder_is_private_whatever_the_umask(tmp_path):
    old = os.umask(0)
    try:
        cache = EngineCache(tmp_path / "a" / "cache")
        path = cache.get_or_build(KEY, lambda: b"engine").path
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "a" / "cache").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert EngineCache(tmp_path / "a" / "cache").load(KEY) == b"engine"


@posix_only
def test_group_writable_cache_folder_is_refused(tmp_path):
    d = tmp_path / "cache"
    EngineCache(d).get_or_build(KEY, lambda: b"engine")
    os.chmod(d, 0o770)
    with pytest.raises(fastdet.UnsafeCacheError, match="writable by group or others"):
        EngineCache(d).load(KEY)
    with pytest.raises(fastdet.UnsafeCacheError):
        EngineCache(d).get_or_build(dataclasses.replace(KEY, precision="fp32"), lambda: b"other")
    assert stat.S_IMODE(os.stat(d).st_mode) == 0o770  # refused, not silently "fixed"


@posix_only
def test_world_writable_engine_file_is_refused(tmp_path):
    d = tmp_path / "cache"
    path = EngineCache(d).get_or_build(KEY, lambda: b"engine").path
    os.chmod(path, 0o666)
    with pytest.raises(fastdet.UnsafeCacheError, match="cached engine"):
        EngineCache(d).load(KEY)


@posix_only
def test_symlinked_cache_folder_is_refused(tmp_path):
    real = tmp_path / "real"
    EngineCache(real).get_or_build(KEY, lambda: b"engine")
    link = tmp_path / "link"
    link.symlink_to(real)
    with pytest.raises(fastdet.UnsafeCacheError, match="symbolic link"):
        EngineCache(link).load(KEY)


@pytest.mark.parametrize("location", ["../secret/data.bin", "sub/../../secret/data.bin", "ABS"])
def test_external_data_outside_the_model_folder_is_refused(tmp_path, location):
    (tmp_path / "models").mkdir()
    (tmp_path / "secret").mkdir()
    data = np.arange(16, dtype=np.float32).tobytes()
    (tmp_path / "secret" / "data.bin").write_bytes(data)
    if location == "ABS":
        location = str(tmp_path / "secret" / "data.bin")
    m = model_with_external_data(tmp_path / "models" / "m.onnx", location, data)
    assert external_data_locations(m.read_bytes()) == [location]
    with pytest.raises(fastdet.ModelError, match="outside the model's folder"):
        check_external_data(m)
    with pytest.raises(fastdet.ModelError, match="outside the model's folder"):
        fastdet.Detector(m)


def test_external_data_symlinked_out_of_the_folder_is_refused(tmp_path):
    (tmp_path / "models").mkdir()
    data = np.arange(16, dtype=np.float32).tobytes()
    (tmp_path / "secret.bin").write_bytes(data)
    (tmp_path / "models" / "data.bin").symlink_to(tmp_path / "secret.bin")
    m = model_with_external_data(tmp_path / "models" / "m.onnx", "data.bin", data)
    with pytest.raises(fastdet.ModelError, match="outside the model's folder"):
        check_external_data(m)


def test_external_data_inside_the_folder_loads(tmp_path):
    src = yolov8_like(tmp_path / "src.onnx", np.array([[20, 20, 16, 16]] * 8, np.float32),
                      np.full((1, 8), 0.9, np.float32))
    model = onnx.load(str(src))
    out = tmp_path / "m" / "model.onnx"
    out.parent.mkdir()
    # Small tensors (the Squeeze axes ONNX Runtime must read at load) stay inline, the boxes go out.
    onnx.save_model(model, str(out), save_as_external_data=True, location="weights.bin", size_threshold=64)
    assert external_data_locations(out.read_bytes()) != []
    det = fastdet.Detector(out)
    assert len(det.detect(np.full((64, 64, 3), 255, np.uint8))) >= 1
