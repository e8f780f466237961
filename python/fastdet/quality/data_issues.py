"""Problems found in a labelled dataset, counted per kind instead of stopping at the first.

A real dataset exported from an annotation tool has a few bad rows; an evaluation that stops at
the first is as useless as one that hides them. Each kind is counted, the first few places are
kept for the message, and ``strict`` turns any of them into an ``InputError``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from ..errors import InputError

log = logging.getLogger("fastdet")

#: kind -> what happened to the row or image (the message a user reads).
KINDS: dict[str, str] = {
    "missing_labels": "image without a label file (scored as an image with no objects)",
    "malformed_line": "label line that is not 'class cx cy w h' numbers (line skipped)",
    "class_out_of_range": "label with a class id the model does not have (label skipped)",
    "box_outside_image": "box reaching outside the image (clipped to it)",
    "empty_box": "box of zero area, or entirely outside the image (label skipped)",
    "duplicate_image": "image with the same content as an earlier one (later copy skipped)",
    "unreadable_image": "image file that cannot be read or decoded (skipped)",
    "size_mismatch": "image whose size differs from the annotation file's (boxes scaled to the real size)",
    "unknown_category": "annotation whose category is not a class of the model (skipped)",
    "missing_image": "annotated image with no file in the images folder (skipped)",
}

_EXAMPLES = 3


@dataclass
class DataIssues:
    """Counts of dataset problems per kind (``KINDS``), with the first few places of each."""

    counts: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, kind: str, where: str, n: int = 1) -> None:
        if kind not in KINDS:
            raise KeyError(kind)
        self.counts[kind] = self.counts.get(kind, 0) + n
        seen = self.examples.setdefault(kind, [])
        if len(seen) < _EXAMPLES:
            seen.append(where)

    def __bool__(self) -> bool:
        return bool(self.counts)

    def total(self) -> int:
        return sum(self.counts.values())

    def lines(self) -> list[str]:
        """One line per kind: count, what it means, where the first ones are."""
        return [f"{n} x {KINDS[k]}: {', '.join(self.examples[k])}{', ...' if n > len(self.examples[k]) else ''}"
                for k, n in sorted(self.counts.items())]

    def report(self, strict: bool = False, what: str = "data") -> None:
        """Logs each kind as a warning; with ``strict``, raises ``InputError`` listing them instead."""
        if not self:
            return
        if strict:
            raise InputError(f"{what}: {self.total()} problems (strict mode):\n  " + "\n  ".join(self.lines()))
        for line in self.lines():
            log.warning("%s: %s", what, line)

    def as_dict(self) -> dict[str, int]:
        return dict(sorted(self.counts.items()))
