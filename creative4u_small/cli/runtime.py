"""`c4u select`, `c4u rank`, `c4u bench`: the torch-free runtime on an export folder.

None of these import torch unless `c4u bench --baseline transformers` asks for the PyTorch baseline.
"""

from __future__ import annotations

from pathlib import Path

import typer

from creative4u_small.bench.bench_config import BenchConfig
from creative4u_small.bench.runtime_bench import run_bench
from creative4u_small.cli.common import emit_json, friendly_errors, progress_bar, say
from creative4u_small.cli.config_options import fields_of, from_config
from creative4u_small.contract.protocol import SLOT_HELP
from creative4u_small.runtime.rank_config import RankConfig
from creative4u_small.runtime.selector import Selector
from creative4u_small.runtime.selector_config import EXPORT_HELP, SelectorConfig

# the options select and rank share, declared once
EXPORT = typer.Option(..., "--export", help=EXPORT_HELP)
QUERY = typer.Option("", "--query", help=SLOT_HELP["query"])
TITLE = typer.Option("", "--title", help=SLOT_HELP["title"])
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")


def _load(export: Path, cfg: SelectorConfig):
    sel = Selector.load(export, config=cfg)
    info = sel.describe()
    if "fallback" in info["probe"]:
        say(f"warning: {info['probe']['fallback']}; using fp32 graphs")
    say(f"backend {sel.backend} ({sel.backend_reason}), {sel.precision} ({sel.precision_reason}); "
        f"available: {', '.join(info['available_backends'])}")
    return sel


def collect_images(sources: list[Path]) -> list[Path]:
    """Files as given; folders expanded to their image files (sorted). Nothing found is an error."""
    out: list[Path] = []
    for src in sources:
        if src.is_dir():
            found = sorted(p for p in src.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise FileNotFoundError(f"{src}: no image files ({', '.join(IMAGE_SUFFIXES)}) in this folder")
            out += found
        elif src.is_file():
            out.append(src)
        else:
            raise FileNotFoundError(f"{src}: no such image file or folder")
    return out


@friendly_errors
@from_config(SelectorConfig, ("backend", "precision", "device", "threads", "max_new_tokens", "probe", "on_probe_failure"))
def select(
    cfg: SelectorConfig,
    a: Path = typer.Argument(..., help="Creative A (image file)."),
    b: Path = typer.Argument(..., help="Creative B (image file)."),
    export: Path = EXPORT,
    query: str = QUERY,
    title: str = TITLE,
    explain: bool = typer.Option(False, "--explain", help="Also decode the rationale (KV-cache decoder graphs, greedy)."),
    as_json: bool = typer.Option(False, "--json", help="Print the full result as JSON."),
):
    """Pick the creative users will more likely click (both orders scored; p_a is their mean).

    Example: c4u select a.jpg b.jpg --export exports/student --query "trail running shoes" --explain
    """
    sel = _load(export, cfg)
    r = sel.compare(a, b, query=query, title=title, explain=explain)
    if as_json:
        info = sel.describe()
        emit_json({"a": str(a), "b": str(b), **r.to_dict(), "backend": sel.backend, "precision": sel.precision,
                   "requested_precision": cfg.precision, "probe": info["probe"]})
        return
    pick = a if r.winner == "A" else b
    note = "" if r.consistent else "  (the two orders disagree: low confidence)"
    typer.echo(f"winner: {r.winner} ({pick})  p_a={r.p_a:.4f}  orders={r.p_a_orders[0]:.4f}/{r.p_a_orders[1]:.4f}{note}")
    if r.explanation is not None:
        typer.echo(explanation_text(r.explanation))


def explanation_text(ex) -> str:
    """The parsed protocol as a table (question, label, answer) and the reasoning; or the raw text, flagged."""
    if not ex.parsed:
        return f"rationale {ex.error} (raw text follows)\n{ex.text}"
    rows = ex.rows()
    width = max(len(f"{key} {label}") for key, label, _ in rows)
    lines = [f"{'question':<{width}}  answer", f"{'-' * width}  ------"]
    lines += [f"{key + ' ' + label:<{width}}  {answer}" for key, label, answer in rows]
    if not ex.q10_matches_verdict:
        lines.append(f"note: Q10 names {ex.answers.get('Q10')} but the verdict is {ex.verdict}")
    if ex.reasoning:
        lines += ["", ex.reasoning]
    return "\n".join(lines)


@friendly_errors
@from_config(RankConfig, ("export", "top_k", "query", "title", "selector.backend", "selector.precision", "selector.device", "selector.threads",
                          "selector.batch_size", "selector.round_robin_max", "selector.screen_one_order"))
def rank(
    cfg: RankConfig,
    sources: list[Path] = typer.Argument(..., help="Image files and/or folders of images."),
    as_json: bool = typer.Option(False, "--json", help="Print order, scores and every comparison as JSON."),
):
    """Rank creatives best first: every image encoded once, pairs scheduled, Bradley–Terry scores.

    Example: c4u rank creatives/ --export exports/student --top-k 3 --query "red kettle"
    """
    images = collect_images(sources)
    sel = _load(cfg.export, cfg.selector)
    progress, update = progress_bar("rank")
    with progress:
        r = sel.rank(images, query=cfg.query, title=cfg.title, top_k=cfg.top_k or None, progress=update)
    if as_json:
        emit_json(r.to_dict([str(p) for p in images]))
        return
    for place, i in enumerate(r.order, 1):
        typer.echo(f"{place:3d}. {images[i]}  score={r.scores[i]:+.3f}")
    say(f"{len(r.comparisons)} comparisons ({r.strategy}), {r.images_encoded} images encoded, {r.timings_ms['total'] / 1000:.2f} s")


@friendly_errors
@from_config(BenchConfig, fields_of(BenchConfig), required=("export",))
def bench(cfg: BenchConfig):
    """Latency percentiles, pairs/s, rank and explain time, stages and memory per backend, vs transformers.

    Example: c4u bench --export exports/student --backends cpu,cuda --baseline transformers --model models/student --json bench.json --plot bench.png
    Quick run: c4u bench --export exports/tiny --runs 3 --batch-sizes 1,8 --rank-sizes 8 --generate-tokens 8
    """

    progress, _ = progress_bar("bench")
    task = progress.task_ids[0]
    with progress:
        report = run_bench(cfg, lambda stage, done, total: progress.update(task, description=stage, completed=done, total=total))
    emit_json({"backends": {k: _summary(v) for k, v in report["backends"].items()}, "ratios": report["ratios"],
               **({"json": str(cfg.json_out)} if cfg.json_out else {}), **({"plot": report["plot"]} if cfg.plot else {})})


def _summary(fig: dict) -> dict:
    if "skipped" in fig:
        return fig
    info = fig["describe"]
    return {"backend": info["backend"], "backend_reason": info["backend_reason"], "precision": info["precision"],
            "compare_p50_ms": round(fig["compare_ms"]["p50"], 2), "compare_p95_ms": round(fig["compare_ms"]["p95"], 2),
            "pairs_per_s": {b: round(t["pairs_per_s"], 2) for b, t in fig["throughput"].items()},
            "rank_s": {n: round(t["seconds"], 3) for n, t in fig["rank"].items()},
            "stages_ms": {k: round(v, 2) for k, v in fig["stages_ms"].items()}, "peak_rss_mb": round(fig["peak_rss_mb"], 1)}


def register(app: typer.Typer) -> None:
    """Add ``c4u select``, ``c4u rank`` and ``c4u bench`` to the main app."""
    app.command("select")(select)
    app.command("rank")(rank)
    app.command("bench")(bench)
