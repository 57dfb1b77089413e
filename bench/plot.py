"""`c4u bench --plot`: compare p50 and pairs per second per backend (and the baseline) as one PNG."""

from __future__ import annotations

from pathlib import Path


def plot_report(report: dict, path: Path) -> Path:
    """Compare p50 and pairs/s per backend (and baseline) as one PNG."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker
    except ImportError:
        raise ImportError("--plot needs matplotlib: pip install 'creative4u-small[plot]'") from None
    runs = {k: v for k, v in report["backends"].items() if "skipped" not in v}
    base = report.get("baseline") or {}
    names = list(runs) + (["transformers scorer"] if "scorer_compare_ms" in base else []) + (["transformers generate"] if "generate_ms" in base else [])
    p50 = [runs[k]["compare_ms"]["p50"] for k in runs] + ([base["scorer_compare_ms"]["p50"]] if "scorer_compare_ms" in base else []) + \
        ([base["generate_ms"]["p50"]] if "generate_ms" in base else [])
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(8, 7.5))  # stacked: 880 px wide, fits a report column
    ax1.barh(names, p50, color=["tab:blue"] * len(runs) + ["tab:gray"] * (len(names) - len(runs)))
    ax1.set_xscale("log")
    ax1.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    for y, v in enumerate(p50):
        ax1.text(v, y, f" {v:,.0f} ms" if v >= 10 else f" {v:.1f} ms", va="center", fontsize=8)
    ax1.set_xlabel("compare latency p50 (ms, both orders; log scale)")
    sizes = sorted({int(b) for v in runs.values() for b in v["throughput"]})
    width = 0.8 / max(1, len(runs) + bool(base.get("scorer_throughput")))
    for i, (k, v) in enumerate(runs.items()):
        ax2.bar([x + i * width for x in range(len(sizes))], [v["throughput"].get(str(s), {}).get("pairs_per_s", 0) for s in sizes], width, label=k)
    if base.get("scorer_throughput"):
        ax2.bar([x + len(runs) * width for x in range(len(sizes))],
                [base["scorer_throughput"].get(str(s), {}).get("pairs_per_s", 0) for s in sizes], width, label="transformers scorer", color="tab:gray")
    ax2.set_xticks([x + width * (len(runs) - 1) / 2 for x in range(len(sizes))], [f"batch {s}" for s in sizes])
    ax2.set_ylabel("pairs per second")
    ax2.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=min(4, len(runs) + 1), frameon=False)
    fig.suptitle(f"c4u bench: {Path(report['config']['export']).name} on {report['machine']['cpu']}", fontsize=10)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
