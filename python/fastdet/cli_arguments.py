"""Checks of the commands' arguments (detect, bench, serve and the quality commands), made before any work (and failing as one
``fastdet: error:`` line, exit 2): numbers (argparse's ``type=float`` takes "nan" and "inf"), data
paths (an empty one would mean the current folder) and output paths (a missing folder would
otherwise be found only after the whole run).

Light on purpose: the command modules import it at module level.
"""

from __future__ import annotations

import math
import numbers
import os
from pathlib import Path

from .errors import InputError


def finite(value: float | None, flag: str, low: float | None = None, high: float | None = None, *,
           low_open: bool = False, high_open: bool = False) -> float | None:
    """``value`` (None passes: the option was not given) when it is a finite number within
    [low, high] (``low_open`` / ``high_open`` leave that end out; None: no bound on that side);
    an ``InputError`` naming ``flag`` otherwise. argparse's ``type=float`` takes "nan", "inf" and
    any sign, so each float option of the quality commands goes through this before any work."""
    if value is None:
        return None
    # Written so that NaN fails every comparison below.
    ok = (isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
          and (low is None or (value > low if low_open else value >= low))
          and (high is None or (value < high if high_open else value <= high)))
    if not ok:
        if low is not None and high is not None:
            where = f" in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        elif low is not None:
            where = f" {'above' if low_open else 'of at least'} {low:g}"
        elif high is not None:
            where = f" {'below' if high_open else 'of at most'} {high:g}"
        else:
            where = ""
        raise InputError(f"{flag}: expected a finite number{where}, got {value!r}")
    return float(value)


def data_path(value: str | os.PathLike[str], what: str = "data") -> Path:
    """``value`` as a Path; an empty or blank one is an ``InputError`` (``Path("")`` is the current
    folder: a split would be written there, an evaluation would read it)."""
    if not isinstance(value, (str, os.PathLike)) or not os.fspath(value).strip():
        raise InputError(f"{what}: an empty path (write '.' for the current folder)")
    return Path(value).expanduser()


def _writable_folder(folder: Path, flag: str, value: str) -> None:
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"{flag} {value!r}: cannot write into {str(folder)!r} (permissions)")


def output_file(value: str, flag: str) -> Path:
    """A file the command will write: not empty, not an existing folder, and its folder exists."""
    if not value.strip():
        raise InputError(f"{flag}: an empty path")
    path = Path(value).expanduser()
    if path.is_dir():
        raise InputError(f"{flag} {value!r}: is a folder; give a file name")
    parent = path.parent
    if not parent.is_dir():
        raise InputError(f"{flag} {value!r}: {str(parent)!r} is not a folder (it is a file)" if parent.exists()
                         else f"{flag} {value!r}: no such folder {str(parent)!r}; create it first")
    _writable_folder(parent, flag, value)
    return path


def output_folder(value: str, flag: str) -> Path:
    """A folder the command will create if needed: not empty, not an existing file, nor under one."""
    if not value.strip():
        raise InputError(f"{flag}: an empty path")
    path = Path(value).expanduser()
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(f"{flag} {value!r}: {str(existing)!r} is a file, not a folder")
    _writable_folder(existing, flag, value)
    return path
