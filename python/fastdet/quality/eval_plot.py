"""The plots of ``fastdet eval --plot DIR``: the person class's precision-recall curve and the
per-class AP bars, as PNG files (matplotlib, without a display)."""

from __future__ import annotations

from pathlib import Path

from .coco_eval import CocoMetrics


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise ImportError("--plot needs matplotlib: pip install 'fastdet[quality]'") from None
    matplotlib.use("Agg")  # files only: no display needed, none opened
    import matplotlib.pyplot as plt

    return plt


def plot(metrics: CocoMetrics, names: dict[int, str], folder: Path, title: str) -> list[Path]:
    """Writes ``pr_person.png`` (when the data has persons) and ``ap_per_class.png`` into
    ``folder``; returns the files written."""
    plt = _pyplot()
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    person = next((k for k, v in names.items() if v == "person"), None)
    if person is not None and person in metrics.pr_curves:
        fig, ax = plt.subplots(figsize=(5, 4.5), dpi=120)
        ax.plot(metrics.recall, metrics.pr_curves[person], lw=2,
                label=f"person, IoU 0.5 (AP50 {metrics.per_class_ap50[person]:.3f})")
        ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02), title=title)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower left")
        fig.tight_layout()
        written.append(folder / "pr_person.png")
        fig.savefig(written[-1])
        plt.close(fig)
    if metrics.per_class:
        items = sorted(metrics.per_class.items(), key=lambda kv: kv[1], reverse=True)
        fig, ax = plt.subplots(figsize=(max(6, 0.18 * len(items) + 2), 4.5), dpi=120)
        ax.bar(range(len(items)), [v for _, v in items], color="#4c72b0")
        ax.set_xticks(range(len(items)), [names.get(k, str(k)) for k, _ in items], rotation=90, fontsize=7)
        ax.set(ylabel="AP50-95", ylim=(0, 1), title=f"{title}: mAP50-95 {metrics.map50_95:.4f}")
        ax.grid(axis="y", alpha=0.3)
        fig.tight_layout()
        written.append(folder / "ap_per_class.png")
        fig.savefig(written[-1])
        plt.close(fig)
    return written
