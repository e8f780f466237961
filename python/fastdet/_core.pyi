"""Type stubs for fastdet._core, the native core (pybind11)."""

from __future__ import annotations

import enum
from typing import Any, Sequence

import numpy as np
import numpy.typing as npt

built_with_cuda: bool
MAX_DETECTIONS: int  # largest max_det
MAX_FRAME_SIDE: int  # largest frame / network input side the letterbox takes
sanitized: bool  # an ASan + UBSan test build

class Placement(enum.Enum):
    CENTER = 0
    TOP_LEFT = 1
    STRETCH = 2

class HeadFormat(enum.Enum):
    YOLOV8 = 0
    YOLOV5 = 1
    YOLOX = 2
    END2END = 3

class Recipe:
    placement: Placement
    scaleup: bool
    pad_value: float
    scale: float
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    output_rgb: bool
    def __init__(self) -> None: ...

class Geometry:
    @property
    def src_w(self) -> int: ...
    @property
    def src_h(self) -> int: ...
    @property
    def dst_w(self) -> int: ...
    @property
    def dst_h(self) -> int: ...
    @property
    def new_w(self) -> int: ...
    @property
    def new_h(self) -> int: ...
    @property
    def pad_x(self) -> int: ...
    @property
    def pad_y(self) -> int: ...
    @property
    def gain_x(self) -> float: ...
    @property
    def gain_y(self) -> float: ...
    def __init__(self) -> None: ...

def make_geometry(src_h: int, src_w: int, dst_h: int, dst_w: int, placement: Placement = ...,
                  scaleup: bool = True) -> Geometry: ...

class HeadSpec:
    @property
    def format(self) -> HeadFormat: ...
    @property
    def num_classes(self) -> int: ...
    @property
    def num_anchors(self) -> int: ...
    @property
    def input_h(self) -> int: ...
    @property
    def input_w(self) -> int: ...
    @property
    def strides(self) -> list[int]: ...
    @property
    def image_stride(self) -> int: ...
    def __init__(self, format: HeadFormat, num_classes: int, num_anchors: int, input_h: int = 640,
                 input_w: int = 640, strides: Sequence[int] = (8, 16, 32)) -> None: ...

class DecodeOptions:
    @property
    def conf(self) -> float: ...
    @property
    def iou(self) -> float: ...
    @property
    def max_det(self) -> int: ...
    @property
    def max_candidates(self) -> int: ...
    @property
    def agnostic(self) -> bool: ...
    def __init__(self, conf: float = 0.25, iou: float = 0.7, max_det: int = 300, max_candidates: int = 30000,
                 agnostic: bool = False) -> None: ...

class DecodeStats:
    @property
    def candidates(self) -> int: ...
    @property
    def dropped(self) -> int: ...
    @property
    def kept(self) -> int: ...
    @property
    def invalid(self) -> int: ...

def letterbox_into(frame: npt.NDArray[np.uint8], out: npt.NDArray[np.float32], recipe: Recipe,
                   rgb: bool = False) -> Geometry:
    """frame uint8[H, W, 3|4] -> out float32[3, h, w] (in place); returns the Geometry."""

def decode(output: npt.NDArray[np.float32], head: HeadSpec, geometries: Sequence[Geometry],
           options: DecodeOptions, classes: Sequence[int] | None = None
           ) -> list[tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], npt.NDArray[np.int32], DecodeStats]]:
    """Per image: (xyxy float32[N, 4], scores float32[N], class_ids int32[N], stats)."""

def nms(boxes: npt.NDArray[np.float32], scores: npt.NDArray[np.float32], iou: float,
        class_ids: npt.NDArray[np.integer[Any]] | None = None, max_det: int = -1) -> npt.NDArray[np.int64]: ...

def check_frame(frame: npt.NDArray[np.uint8]) -> None:
    """Raises InputTypeError / InputError unless frame is uint8[H, W, 3|4] of packed pixels."""

def num_threads() -> int: ...
def _pool_callers_overlap(callers: int, timeout_ms: int) -> bool: ...
def _pool_throw_at(n: int, failing: int) -> None: ...
def simd_level() -> str:
    """Instruction set letterbox_into uses now ("none", "sse2", "avx2"): the best here, capped by
    $FASTDET_SIMD. Every level gives the same values."""
def simd_levels() -> list[str]:
    """Instruction sets this CPU and build can run the letterbox with, plainest first."""
def cuda_available() -> bool: ...

# CUDA builds only: the submodule with letterbox, decode_nms, CallableEngine and CudaPipeline
# (see python/src/bind_cuda.cpp for their signatures), plus device queries.
cuda: Any
def cuda_device_count() -> int: ...
def cuda_device_name(index: int = 0) -> str: ...
