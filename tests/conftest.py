"""Shared fixtures: the real assets folder (optional) and tiny ONNX detectors built in-test."""

from __future__ import annotations

from pathlib import Path

import pytest

ASSETS = Path(__file__).resolve().parents[1].parent / "shared" / "assets"


@pytest.fixture(scope="session")
def assets() -> Path:
    """../shared/assets beside the repository; tests using it skip when it is absent."""
    if not (ASSETS / "models").is_dir():
        pytest.skip("real assets (../shared/assets) not present")
    return ASSETS


@pytest.fixture(scope="session")
def bus_jpg(assets: Path) -> Path:
    return assets / "images" / "bus.jpg"
