"""Distances between a window of a signal and its reference: PSI (population stability index) on
bins cut at the reference's deciles, and the two-sample Kolmogorov-Smirnov test (scipy.stats).

PSI = sum over bins of (w - r) * ln(w / r), w and r the window's and reference's shares of each
bin; the usual reading is < 0.1 stable, 0.1-0.25 moderate, > 0.25 a real shift. Bins come from the
reference's deciles, merged where values repeat (counts, flags), so a discrete signal gets one bin
per value it takes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Share given to an empty bin, so ln(w / r) stays finite.
_FLOOR = 1e-4


def bin_edges(reference: np.ndarray, bins: int = 10) -> np.ndarray:
    """Inner edges at the reference's quantiles (unique values only): float64[<= bins - 1]."""
    if not len(reference):
        return np.zeros(0)
    return np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1]))


def shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """float64[len(edges) + 1]: share of ``values`` in each bin (right-closed at each edge)."""
    counts = np.bincount(np.searchsorted(edges, values, side="left"), minlength=len(edges) + 1)
    total = counts.sum()
    return counts / total if total else np.full(len(edges) + 1, 1.0 / (len(edges) + 1))


def psi(window: np.ndarray, reference_shares: np.ndarray, edges: np.ndarray) -> float:
    w = np.maximum(shares(window, edges), _FLOOR)
    r = np.maximum(reference_shares, _FLOOR)
    return float(((w - r) * np.log(w / r)).sum())


@dataclass(frozen=True)
class Distance:
    """psi, and the KS statistic and p-value of the window against the reference samples."""

    psi: float
    ks: float
    p_value: float


def distance(window: np.ndarray, reference: np.ndarray, reference_shares: np.ndarray, edges: np.ndarray) -> Distance:
    """Both measures; an empty window or reference is no evidence of drift (0, 0, 1)."""
    from scipy.stats import ks_2samp

    if not len(window) or not len(reference):
        return Distance(0.0, 0.0, 1.0)
    ks = ks_2samp(window, reference)
    return Distance(psi(window, reference_shares, edges), float(ks.statistic), float(ks.pvalue))
