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
    if isinstance(classes, (str, numbers.Integral)):
        classes = [classes]
    try:
        items = list(classes)
    except TypeError:
        raise InputTypeError(f"classes: expected a class id, a name, or a list of them, got {classes!r}") from None
    if not items:
        # An empty filter would keep nothing on one path and everything on another: say what to pass.
        raise InputError("classes: expected at least one class id or name, or None for every class")
    by_name = {v: k for k, v in names.items()}
    ids = []
    for c in items:
        if isinstance(c, str):
            if c not in by_name:
                raise InputError(f"classes: unknown class name {c!r}; the model has {sorted(by_name)[:10]}...")
            ids.append(by_name[c])
        elif isinstance(c, numbers.Integral) and not isinstance(c, bool):
            if not 0 <= int(c) < num_classes:
                raise InputError(f"classes: expected ids in [0, {num_classes}), got {c}")
            ids.append(int(c))
        else:
            raise InputTypeError(f"classes: expected class ids (int) or names (str), got {c!r}")
    return ids


def override(base: _core.DecodeOptions, *, conf: float | None = None, iou: float | None = None,
             max_det: int | None = None, agnostic: bool | None = None) -> _core.DecodeOptions:
    """``base`` with the given fields replaced (``base`` itself when none is given)."""
    if conf is None and iou is None and max_det is None and agnostic is None:
        return base
    for name, value, kind in (("conf", conf, numbers.Real), ("iou", iou, numbers.Real),
                              ("max_det", max_det, numbers.Integral)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, kind)):
            raise InputTypeError(f"{name}: expected a {'number' if kind is numbers.Real else 'whole number'}, "
                            f"got {value!r}")
    if agnostic is not None and not isinstance(agnostic, bool):
        raise InputTypeError(f"agnostic: expected True or False, got {agnostic!r}")
    return _core.DecodeOptions(
        base.conf if conf is None else float(conf),
        base.iou if iou is None else float(iou),
        base.max_det if max_det is None else int(max_det),
        base.max_candidates,
        base.agnostic if agnostic is None else agnostic,
    )


def split(options: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(Detector options, per-call options) of ``fastdet.detect``'s keyword arguments."""
    per_call = {k: v for k, v in options.items() if k in PER_CALL}
    return {k: v for k, v in options.items() if k not in PER_CALL}, per_call
