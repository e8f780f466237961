"""Shared fixtures: the real assets folder (optional) and tiny ONNX detectors built in-test."""

from __future__ import annotations

import os
import sys
import tempfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

import fastdet

if fastdet._core.sanitized:
    # OpenVINO's TBB loads libtbbbind with RTLD_DEEPBIND, which the preloaded ASan runtime refuses
    # (the process aborts in compile_model), and Ray's raylet and GCS binaries, started with the
    # runtime preloaded, fail to come up. The sanitizer run checks fastdet's native code, which
    # every CPU test drives through ONNX Runtime as well: there OpenVINO and Ray count as not
    # installed, in this process and (through a sitecustomize first on PYTHONPATH) in the ones
    # tests start. The regular run covers them.
    for _name in ("openvino", "ray"):
        sys.modules[_name] = None  # type: ignore[assignment]
    _hide = Path(tempfile.mkdtemp(prefix="fastdet-sanitized-"))
    (_hide / "sitecustomize.py").write_text("import sys\nfor m in ('openvino', 'ray'):\n    sys.modules[m] = None\n")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(_hide), os.environ.get("PYTHONPATH")) if p)

# $FASTDET_ASSETS points elsewhere, e.g. on a GPU box where only the checkout and a copy of a few
# assets travel.
ASSETS = Path(os.environ.get("FASTDET_ASSETS", Path(__file__).resolve().parents[1].parent / "shared" / "assets"))


@pytest.fixture(scope="session")
def assets() -> Path:
    """../shared/assets beside the repository; tests using it skip when it is absent."""
    if not (ASSETS / "models").is_dir():
        pytest.skip("real assets (../shared/assets) not present")
    return ASSETS


@pytest.fixture(scope="session")
def bus_jpg(assets: Path) -> Path:
    return assets / "images" / "bus.jpg"


@pytest.fixture(scope="session")
def two_class_model(tmp_path_factory) -> Path:
    """A tiny YOLOv8-layout ONNX model (names person, car) that finds one car in a bright frame."""
    from tiny_models import yolov8_like

    boxes = np.array([[20, 20, 16, 16]] * 8, np.float32)
    weights = np.zeros((2, 8), np.float32)
    weights[1, 0] = 0.9
    return yolov8_like(tmp_path_factory.mktemp("m") / "tiny.onnx", boxes, weights,
                       metadata={"names": "{0: 'person', 1: 'car'}"})


#: The CPU backends every inference test runs on.
CPU_BACKENDS = ["onnxruntime-cpu", "openvino-cpu"]


@pytest.fixture(params=CPU_BACKENDS)
def cpu_backend(request, monkeypatch) -> str:
    """Runs a test once per CPU backend: ``backend="auto"`` resolves to this one (the other CPU
    backend and the GPU backends are taken out of the auto order — on a GPU machine auto would
    otherwise pick a GPU backend — and ``fastdet.detect``'s cached Detectors, made under the other
    order, are set aside). Skips where the backend is not installed."""
    from fastdet import backends, detector

    name = request.param
    reason = backends.availability()[name]
    if reason:
        pytest.skip(f"{name}: {reason}")
    gpu_usable = any(reason is None for reason in backends.gpu_availability().values())
    # GPU backends stay in the order where none can run (auto says why it skips them), and go
    # where one could: auto must resolve to this CPU backend.
    monkeypatch.setattr(backends, "AUTO_ORDER", [n for n in backends.AUTO_ORDER
                                                 if n == name or (n not in CPU_BACKENDS and not gpu_usable)])
    monkeypatch.setattr(detector, "_DEFAULTS", OrderedDict())
    return name


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory):
    """Compiled-model and engine caches go to a temporary folder, never the user's."""
    old = os.environ.get("FASTDET_CACHE")
    os.environ["FASTDET_CACHE"] = str(tmp_path_factory.mktemp("fastdet-cache"))
    yield
    if old is None:
        os.environ.pop("FASTDET_CACHE", None)
    else:
        os.environ["FASTDET_CACHE"] = old
