"""The one place a ``device`` argument is read: None (any), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``."""

from __future__ import annotations

import re

from .errors import InputError, InputTypeError

_CUDA = re.compile(r"cuda(?::(\d+))?")


def parse_device(device: object) -> str | None:
    """The device, normalised (``"cuda"`` stays ``"cuda"``, meaning GPU 0), or a clear error:
    ``InputTypeError`` for a non-string (``device=5``), ``InputError`` for an unknown name
    (``"gpu"``, ``"cuda:x"``)."""
    if device is None:
        return None
    if not isinstance(device, str):
        raise InputTypeError(f"device: expected None, 'cpu', 'cuda' or 'cuda:N' (a string), got {type(device).__name__}")
    if device == "cpu" or _CUDA.fullmatch(device):
        return device
    raise InputError(f"device: expected None, 'cpu', 'cuda' or 'cuda:N', got {device!r}")


def cuda_index(device: str | None) -> int:
    """GPU index of a parsed device: 0 for None and ``"cuda"``, N for ``"cuda:N"``."""
    device = parse_device(device)
    if device == "cpu":
        raise InputError("device: expected None, 'cuda' or 'cuda:N' for a GPU backend, got 'cpu'")
    m = _CUDA.fullmatch(device or "cuda")
    assert m is not None
    return int(m.group(1) or 0)
