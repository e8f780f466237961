"""Decode options a single ``detect()`` call may override: thresholds and the class filter.

A Detector's options are its defaults; ``detect(frame, conf=..., classes=...)`` replaces them for
that call only. ``fastdet.detect`` splits its keyword arguments the same way, so changing a
threshold reuses the cached Detector instead of loading the model again.
"""

from __future__ import annotations

import numbers
from typing import Any, Iterable, Mapping, Union

from . import _core
from .errors import InputError, InputTypeError

#: A class filter: one id or name ("person"), or several.
ClassFilter = Union[int, str, Iterable[Union[int, str]]]

#: The keyword arguments of ``Detector.detect`` (and of ``fastdet.detect`` that are not the Detector's).
PER_CALL = ("conf", "iou", "max_det", "agnostic", "classes")


def resolve_classes(classes: ClassFilter | None, names: Mapping[int, str], num_classes: int) -> list[int] | None:
    """Class ids for a filter given as ids and/or names (a single id or name is a filter of one);
    None keeps every class."""
    if classes is None:
        return None
    if isinstance(classes, (bytes, bytearray, memoryview)):
        raise InputTypeError(f"classes: expected class ids (int) or names (str), got {classes!r}")
    if isinstance(classes, (str, numbers.Integral)):
        classes = [classes]
    try:
        items = list(classes)
    except TypeError:
        raise InputTypeError(f"classes: expected a class id, a name, or a list of them, got {classes!r}") from None
    if not items:
        # An empty filter would keep nothing on one path and everything on another: say what to pass.
        raise InputError("classes: expected at least one class id or name, or None for every class")
    by_name: dict[str, list[int]] = {}
    for k, v in sorted(names.items()):
        by_name.setdefault(v, []).append(k)  # two classes may share a name: the filter keeps both
    ids = []
    for c in items:
        if isinstance(c, str):
            if c not in by_name:
                raise InputError(f"classes: unknown class name {c!r}; the model has {sorted(by_name)[:10]}...")
            outside = [k for k in by_name[c] if not 0 <= k < num_classes]
            if outside:
                raise InputError(f"classes: {c!r} is class id {outside[0]} in the model's names, outside the "
                                 f"{num_classes} classes its output has (ids 0 to {num_classes - 1})")
            ids.extend(by_name[c])
        elif isinstance(c, numbers.Integral) and not isinstance(c, bool):
            if not 0 <= int(c) < num_classes:
                raise InputError(f"classes: expected ids in [0, {num_classes}), got {c}")
            ids.append(int(c))
        else:
            raise InputTypeError(f"classes: expected class ids (int) or names (str), got {c!r}")
    return ids


#: Largest whole numbers the native options take: max_det's own limit, and a C int.
_LIMITS = {"max_det": _core.MAX_DETECTIONS, "max_candidates": 2**31 - 1}


def _checked(name: str, value: Any, kind: type) -> Any:
    """``value`` as float or int when it is a real / whole number (not a bool), else InputTypeError;
    whole numbers out of range are an InputError here (a binding would raise TypeError past a C int)."""
    if isinstance(value, bool) or not isinstance(value, kind):
        raise InputTypeError(f"{name}: expected a {'number' if kind is numbers.Real else 'whole number'}, "
                             f"got {value!r}")
    if kind is numbers.Integral:
        if not 1 <= int(value) <= _LIMITS[name]:
            raise InputError(f"{name}: expected 1 to {_LIMITS[name]}, got {value}")
        return int(value)
    return float(value)


def _checked_flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise InputTypeError(f"{name}: expected True or False, got {value!r}")
    return value


def make_options(conf: float, iou: float, max_det: int, max_candidates: int, agnostic: bool) -> _core.DecodeOptions:
    """A Detector's default options, type-checked as per-call overrides are (the native
    constructor checks the ranges)."""
    return _core.DecodeOptions(_checked("conf", conf, numbers.Real), _checked("iou", iou, numbers.Real),
                               _checked("max_det", max_det, numbers.Integral),
                               _checked("max_candidates", max_candidates, numbers.Integral),
                               _checked_flag("agnostic", agnostic))


def override(base: _core.DecodeOptions, *, conf: float | None = None, iou: float | None = None,
             max_det: int | None = None, agnostic: bool | None = None) -> _core.DecodeOptions:
    """``base`` with the given fields replaced (``base`` itself when none is given)."""
    if conf is None and iou is None and max_det is None and agnostic is None:
        return base
    return make_options(base.conf if conf is None else conf, base.iou if iou is None else iou,
                        base.max_det if max_det is None else max_det, base.max_candidates,
                        base.agnostic if agnostic is None else agnostic)


def split(options: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(Detector options, per-call options) of ``fastdet.detect``'s keyword arguments."""
    per_call = {k: v for k, v in options.items() if k in PER_CALL}
    return {k: v for k, v in options.items() if k not in PER_CALL}, per_call
