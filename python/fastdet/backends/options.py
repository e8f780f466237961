"""Typed backend options: each backend declares what it takes as a frozen dataclass, and
``Detector(model, **options)`` is checked against the chosen backend's before anything loads.

An option the backend does not take is an ``InputError`` naming the options it does take (not
a ``TypeError`` from deep inside a constructor, and never silently ignored); a value of the wrong
type or range is an ``InputTypeError`` / ``InputError`` naming the option.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from typing import Any, Mapping, Sequence, TypeVar

from ..errors import InputError, InputTypeError

T = TypeVar("T", bound="BackendOptions")


#: Inference threads a CPU backend may be asked for: ONNX Runtime starts every thread asked for
#: (100,000 of them took the whole memory of a 24 GiB machine); OpenVINO clamps on its own.
MAX_THREADS = 1024


def _at_most(name: str, value: int | None, limit: int) -> None:
    if value is not None and value > limit:
        raise InputError(f"{name}: expected at most {limit}, got {value}")


def _positive_int(name: str, value: Any, *, optional: bool = True) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputTypeError(f"{name}: expected a positive int{' or None' if optional else ''}, got {type(value).__name__}")
    if value < 1:
        raise InputError(f"{name}: expected a positive int, got {value}")


def _choice(name: str, value: Any, choices: Sequence[Any]) -> None:
    if value not in choices:
        raise InputError(f"{name}: expected one of {list(choices)}, got {value!r}")


@dataclass(frozen=True)
class BackendOptions:
    """Options every backend takes: none. Subclasses add fields and check them in __post_init__."""

    @classmethod
    def build(cls: type[T], backend: str, given: Mapping[str, Any]) -> T:
        names = [f.name for f in fields(cls)]
        unknown = sorted(set(given) - set(names))
        if unknown:
            takes = ", ".join(names) if names else "no options"
            raise InputError(f"{unknown[0]}: not an option of backend {backend!r} (it takes: {takes})")
        return cls(**given)


@dataclass(frozen=True)
class OnnxRuntimeOptions(BackendOptions):
    """threads: intra-op threads of the ONNX Runtime session (None: ONNX Runtime's default)."""

    threads: int | None = None

    def __post_init__(self) -> None:
        _positive_int("threads", self.threads)
        _at_most("threads", self.threads, MAX_THREADS)


@dataclass(frozen=True)
class TensorRTOptions(BackendOptions):
    """precision: "fp16" or "fp32" (None: the TensorRT version's default); batch: optimisation
    profile (None, an int, or (min, opt, max)); workspace_mb: builder workspace limit; cache_dir:
    engine cache folder (None: $FASTDET_CACHE, else the user cache folder)."""

    precision: str | None = None
    batch: int | Sequence[int] | None = None
    workspace_mb: int | None = None
    cache_dir: str | os.PathLike[str] | None = None

    def __post_init__(self) -> None:
        if self.precision is not None:
            _choice("precision", self.precision, ("fp16", "fp32"))
        if self.batch is not None and not isinstance(self.batch, int):
            if not isinstance(self.batch, (list, tuple)) or len(self.batch) != 3:
                raise InputTypeError(f"batch: expected None, an int or (min, opt, max), got {self.batch!r}")
            for b in self.batch:
                _positive_int("batch", b, optional=False)
        elif self.batch is not None:
            _positive_int("batch", self.batch)
        _positive_int("workspace_mb", self.workspace_mb)
        if self.cache_dir is not None and not isinstance(self.cache_dir, (str, os.PathLike)):
            raise InputTypeError(f"cache_dir: expected a path, got {type(self.cache_dir).__name__}")


@dataclass(frozen=True)
class TorchOptions(BackendOptions):
    """precision: "fp32" (IEEE) or "fp16" (GPU only). CUDA graphs follow the Detector's
    ``use_graphs``."""

    precision: str = "fp32"

    def __post_init__(self) -> None:
        _choice("precision", self.precision, ("fp32", "fp16"))


@dataclass(frozen=True)
class OpenVINOOptions(BackendOptions):
    """threads: OpenVINO's inference threads (None: one per physical core); hint: "auto" (LATENCY
    for one request, THROUGHPUT when a batch splits into several), "latency" or "throughput";
    precision: "auto" (OpenVINO's choice for the CPU: bf16 where it has AMX/AVX512-BF16), "fp32" or
    "bf16"; cache_dir: compiled-model cache folder (None: $FASTDET_CACHE/openvino; False: off)."""

    threads: int | None = None
    hint: str = "auto"
    precision: str = "auto"
    cache_dir: str | os.PathLike[str] | bool | None = None

    def __post_init__(self) -> None:
        _positive_int("threads", self.threads)
        _choice("hint", self.hint, ("auto", "latency", "throughput"))
        _choice("precision", self.precision, ("auto", "fp32", "bf16"))
        if self.cache_dir not in (None, False) and not isinstance(self.cache_dir, (str, os.PathLike)):
            raise InputTypeError(f"cache_dir: expected a path, None or False, got {type(self.cache_dir).__name__}")
