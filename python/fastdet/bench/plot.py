"""PNG of a ``fastdet bench`` report: latency histogram per batch size and per-stage bars.
Needs matplotlib (``pip install 'fastdet[plot]'``)."""

from __future__ import annotations

import os
from typing import Any

MISSING = "--plot needs matplotlib: pip install 'fastdet[plot]' (or pip install matplotlib)"


def require_matplotlib() -> None:
    """Raises ImportError with the install hint when matplotlib is missing (call before benchmarking)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ImportError(MISSING) from None


def plot_report(report: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Writes the PNG for ``report`` (as ``runner.run`` returns it) to ``path``."""
    require_matplotlib()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = report["results"]
    fig, (hist, bars) = plt.subplots(1, 2, figsize=(12, 4.5))
    for r in results:
        hist.hist(r["samples_ms"], bins=40, alpha=0.6, label=f"batch {r['batch']} (p50 {r['latency_ms']['p50']:.2f} ms)")
    hist.set_xlabel("latency per call (ms)")
    hist.set_ylabel("calls")
    hist.set_title("latency")
    hist.legend()
    labels = [f"batch {r['batch']}" for r in results]
    stages = [s for s in results[0]["stages_ms"]] if results else []
    bottom = [0.0] * len(results)
    for stage in stages:
        values = [r["stages_ms"][stage]["p50"] / r["batch"] for r in results]
        bars.bar(labels, values, bottom=bottom, label=stage)
        bottom = [b + v for b, v in zip(bottom, values)]
    other = [max(r["latency_ms"]["p50"] / r["batch"] - b, 0.0) for r, b in zip(results, bottom)]
    bars.bar(labels, other, bottom=bottom, label="other (Python, checks)")
    bars.set_ylabel("ms per frame (p50)")
    bars.set_title("per-stage time per frame")
    bars.legend()
    fig.suptitle(f"fastdet bench: {os.path.basename(report['model'])} on {report['device']} ({report['backend']}), "
                 f"frames {report['frames']}")
    fig.tight_layout()
    fig.savefig(os.fspath(path), dpi=110)
    plt.close(fig)
