"""Preprocessing recipes of the model families fastdet knows.

A recipe is part of a model's spec: it says how a frame becomes the network input
(placement, pad value, scale, mean/std, channel order). The numbers live in the native
``Recipe`` struct, shared by the CPU letterbox and the CUDA kernel; this module only names
the presets and builds them.
"""

from __future__ import annotations

import copyreg
from typing import Sequence

from . import _core
from .errors import InputError, InputTypeError

# Names from the native enum itself ("center", "top_left", "stretch"): one table, shared with its repr.
_PLACEMENTS = {name.lower(): value for name, value in _core.Placement.__members__.items()}


def make_recipe(
    *,
    placement: str = "center",
    pad_value: float = 114.0,
    scale: float = 1.0 / 255.0,
    mean: Sequence[float] = (0.0, 0.0, 0.0),
    std: Sequence[float] = (1.0, 1.0, 1.0),
    output_rgb: bool = True,
    scaleup: bool = True,
) -> _core.Recipe:
    """Builds a recipe. ``mean``/``std`` are per output channel and applied after ``scale``:
    ``value = (pixel / d - mean[c]) / std[c]`` in float32, where ``d = 1 / scale`` (the integer n
    when ``scale`` is 1/n: 255 for 1/255), so the values are ultralytics' ``/ 255`` and
    torchvision's ``ToTensor`` + ``Normalize`` bit for bit. ``pixel`` is the uint8 value of
    ``cv2.resize(INTER_LINEAR)``; the pad value goes through the same formula."""
    if placement not in _PLACEMENTS:
        raise InputError(f"placement: expected one of {sorted(_PLACEMENTS)}, got {placement!r}")
    if len(mean) != 3 or len(std) != 3:
        raise InputError(f"mean/std: expected 3 values each, got {len(mean)} and {len(std)}")
    r = _core.Recipe()
    r.placement = _PLACEMENTS[placement]
    r.pad_value = float(pad_value)
    r.scale = float(scale)
    r.mean = tuple(float(m) for m in mean)
    r.std = tuple(float(s) for s in std)
    r.output_rgb = output_rgb  # the native setters take booleans only (InputTypeError otherwise)
    r.scaleup = scaleup
    return r


def ultralytics() -> _core.Recipe:
    """YOLOv5/v8/11/12/YOLO26: centred letterbox, pad 114, RGB, /255."""
    return make_recipe()


def yolox() -> _core.Recipe:
    """YOLOX: top-left placement, pad 114, BGR, 0-255 (no scaling)."""
    return make_recipe(placement="top_left", scale=1.0, output_rgb=False)


def stretch(scale: float = 1.0 / 255.0) -> _core.Recipe:
    """RT-DETR style: resize to the full input without keeping the aspect ratio."""
    return make_recipe(placement="stretch", scale=scale)


PRESETS = {"ultralytics": ultralytics, "yolox": yolox, "stretch": stretch}


def preset(name: str) -> _core.Recipe:
    """Recipe by preset name: ``ultralytics``, ``yolox`` or ``stretch``."""
    try:
        return PRESETS[name]()
    except KeyError:
        raise InputError(f"recipe: expected one of {sorted(PRESETS)} or a Recipe, got {name!r}") from None



def resolve(recipe: _core.Recipe | str) -> _core.Recipe:
    """A preset by name, or a copy of a Recipe (a Detector keeps its own: changing the caller's
    object later must not change the Detector's preprocessing). Anything else: InputTypeError."""
    if isinstance(recipe, str):
        return preset(recipe)
    if not isinstance(recipe, _core.Recipe):
        raise InputTypeError(f"recipe: expected a Recipe or one of {sorted(PRESETS)}, got {type(recipe).__name__}")
    return from_fields(fields(recipe))


def fields(recipe: _core.Recipe) -> dict[str, object]:
    """Every field of a Recipe, exactly (what a copy, a cache key or a pickle needs)."""
    return {"placement": recipe.placement, "scaleup": recipe.scaleup, "pad_value": recipe.pad_value,
            "scale": recipe.scale, "mean": tuple(recipe.mean), "std": tuple(recipe.std),
            "output_rgb": recipe.output_rgb}


def from_fields(values: dict[str, object]) -> _core.Recipe:
    """The Recipe whose ``fields`` are ``values``."""
    r = _core.Recipe()
    for name, value in values.items():
        setattr(r, name, value)
    return r


# A Recipe pickles as its fields, so it travels wherever Detector options do (Ray actors,
# process pools): the native object has no pickle support of its own.
copyreg.pickle(_core.Recipe, lambda r: (from_fields, (fields(r),)))
