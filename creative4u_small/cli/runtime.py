"""`c4u select`, `c4u rank`, `c4u bench`: the torch-free runtime on an export folder.

None of these import torch unless `c4u bench --baseline transformers` asks for the PyTorch baseline.
"""

from __future__ import annotations

from pathlib import Path

import typer

from creative4u_small.cli.common import emit_json, friendly_errors, progress_bar, say

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")


def _h(name: str) -> str:
    from creative4u_small.runtime.selector_config import SelectorConfig

    return SelectorConfig.help(name)


def _hb(name: str) -> str:
    from creative4u_small.runtime.bench_config import BenchConfig

    return BenchConfig.help(name)


def _csv(text: str, cast=str) -> tuple:
    try:
        return tuple(cast(x.strip()) for x in text.split(",") if x.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not a comma-separated list of {cast.__name__} values (e.g. 1,8,32)") from None


def _load(export: Path, backend: str, precision: str, threads: int, **kw):
    from creative4u_small.runtime.selector import Selector

    sel = Selector.load(export, backend=backend, precision=precision, threads=threads, **kw)
    info = sel.describe()
    if "fallback" in info["probe"]:
        say(f"warning: {info['probe']['fallback']}; using fp32 graphs")
    say(f"backend {sel.backend}, {sel.precision} ({sel.precision_reason}); available: {', '.join(info['available_backends'])}")
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
def select(
    a: Path = typer.Argument(..., help="Creative A (image file)."),
    b: Path = typer.Argument(..., help="Creative B (image file)."),
    export: Path = typer.Option(..., "--export", help="Export folder written by `c4u export`."),
    query: str = typer.Option("", "--query", help="The shopper's search query (their interest)."),
    title: str = typer.Option("", "--title", help="The product title."),
    explain: bool = typer.Option(False, "--explain", help="Also decode the rationale (KV-cache decoder graphs, greedy)."),
    as_json: bool = typer.Option(False, "--json", help="Print the full result as JSON."),
    backend: str = typer.Option("auto", "--backend", help=_h("backend")),
    precision: str = typer.Option("auto", "--precision", help=_h("precision")),
    threads: int = typer.Option(0, "--threads", help=_h("threads")),
    max_new_tokens: int = typer.Option(256, "--max-new-tokens", help=_h("max_new_tokens")),
    probe: bool = typer.Option(True, "--probe/--no-probe", help=_h("probe")),
    on_probe_failure: str = typer.Option("fallback", "--on-probe-failure", help=_h("on_probe_failure")),
):
    """Pick the creative users will more likely click (both orders scored; p_a is their mean).

    Example: c4u select a.jpg b.jpg --export exports/student --query "trail running shoes" --explain
    """
    sel = _load(export, backend, precision, threads, max_new_tokens=max_new_tokens, probe=probe,
                on_probe_failure=on_probe_failure)
    r = sel.compare(a, b, query=query, title=title, explain=explain)
    if as_json:
        info = sel.describe()
        emit_json({"a": str(a), "b": str(b), **r.to_dict(), "backend": sel.backend, "precision": sel.precision,
                   "requested_precision": precision, "probe": info["probe"]})
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
def rank(
    sources: list[Path] = typer.Argument(..., help="Image files and/or folders of images."),
    export: Path = typer.Option(..., "--export", help="Export folder written by `c4u export`."),
    top_k: int = typer.Option(0, "--top-k", min=0, help="How many to return, best first; 0 = all."),
    query: str = typer.Option("", "--query", help="The shopper's search query."),
    title: str = typer.Option("", "--title", help="The product title."),
    as_json: bool = typer.Option(False, "--json", help="Print order, scores and every comparison as JSON."),
    backend: str = typer.Option("auto", "--backend", help=_h("backend")),
    precision: str = typer.Option("auto", "--precision", help=_h("precision")),
    threads: int = typer.Option(0, "--threads", help=_h("threads")),
    batch_size: int = typer.Option(16, "--batch-size", help=_h("batch_size")),
    round_robin_max: int = typer.Option(12, "--round-robin-max", help=_h("round_robin_max")),
    screen_one_order: bool = typer.Option(False, "--screen-one-order/--screen-both-orders", help=_h("screen_one_order")),
):
    """Rank creatives best first: every image encoded once, pairs scheduled, Bradley–Terry scores.

    Example: c4u rank creatives/ --export exports/student --top-k 3 --query "red kettle"
    """
    images = collect_images(sources)
    sel = _load(export, backend, precision, threads, batch_size=batch_size, round_robin_max=round_robin_max,
                screen_one_order=screen_one_order)
    progress, update = progress_bar("rank")
    with progress:
        r = sel.rank(images, query=query, title=title, top_k=top_k or None, progress=update)
    if as_json:
        emit_json(r.to_dict([str(p) for p in images]))
        return
    for place, i in enumerate(r.order, 1):
        typer.echo(f"{place:3d}. {images[i]}  score={r.scores[i]:+.3f}")
    say(f"{len(r.comparisons)} comparisons ({r.strategy}), {r.images_encoded} images encoded, {r.timings_ms['total'] / 1000:.2f} s")


@friendly_errors
def bench(
    export: Path = typer.Option(..., "--export", help=_hb("export")),
    pairs: Path = typer.Option(None, "--pairs", help=_hb("pairs")),
    backends: str = typer.Option("cpu", "--backends", help=_hb("backends") + " Comma-separated."),
    precisions: str = typer.Option("fp32,int8", "--precisions", help=_hb("precisions") + " Comma-separated."),
    baseline: str = typer.Option("", "--baseline", help=_hb("baseline")),
    model: Path = typer.Option(None, "--model", help=_hb("model")),
    runs: int = typer.Option(10, "--runs", help=_hb("runs")),
    warmup: int = typer.Option(2, "--warmup", help=_hb("warmup")),
    batch_sizes: str = typer.Option("1,8,32", "--batch-sizes", help=_hb("batch_sizes") + " Comma-separated."),
    rank_sizes: str = typer.Option("8,16,32", "--rank-sizes", help=_hb("rank_sizes") + " Comma-separated."),
    baseline_rank_max: int = typer.Option(16, "--baseline-rank-max", help=_hb("baseline_rank_max")),
    generate_tokens: int = typer.Option(128, "--generate-tokens", help=_hb("generate_tokens")),
    explain_runs: int = typer.Option(3, "--explain-runs", help=_hb("explain_runs")),
    threads: int = typer.Option(0, "--threads", help=_hb("threads")),
    json_out: Path = typer.Option(None, "--json", help=_hb("json_out")),
    plot: Path = typer.Option(None, "--plot", help=_hb("plot")),
):
    """Latency percentiles, pairs/s, rank and explain time, stages and memory per backend, vs transformers.

    Example: c4u bench --export exports/student --backends cpu,cuda --baseline transformers --model models/student --json bench.json --plot bench.png
    Quick run: c4u bench --export exports/tiny --runs 3 --batch-sizes 1,8 --rank-sizes 8 --generate-tokens 8
    """
    from creative4u_small.runtime.bench import run_bench
    from creative4u_small.runtime.bench_config import BenchConfig

    cfg = BenchConfig(
        export=export, pairs=pairs, backends=_csv(backends), precisions=_csv(precisions), baseline=baseline, model=model,
        runs=runs, warmup=warmup, batch_sizes=_csv(batch_sizes, int), rank_sizes=_csv(rank_sizes, int),
        baseline_rank_max=baseline_rank_max, generate_tokens=generate_tokens, explain_runs=explain_runs,
        threads=threads, json_out=json_out, plot=plot,
    )
    progress, _ = progress_bar("bench")
    task = progress.task_ids[0]
    with progress:
        report = run_bench(cfg, lambda stage, done, total: progress.update(task, description=stage, completed=done, total=total),
                           baseline=_baseline(cfg.baseline))
    emit_json({"backends": {k: _summary(v) for k, v in report["backends"].items()}, "ratios": report["ratios"],
               **({"json": str(json_out)} if json_out else {}), **({"plot": report["plot"]} if plot else {})})


def _baseline(name: str):
    """The measuring function of ``--baseline`` (torch is imported only for it, never by the runtime)."""
    if not name:
        return None
    from creative4u_small.distill.bench_baseline import bench_transformers

    return bench_transformers


def _summary(fig: dict) -> dict:
    if "skipped" in fig:
        return fig
    return {"compare_p50_ms": round(fig["compare_ms"]["p50"], 2), "compare_p95_ms": round(fig["compare_ms"]["p95"], 2),
            "pairs_per_s": {b: round(t["pairs_per_s"], 2) for b, t in fig["throughput"].items()},
            "rank_s": {n: round(t["seconds"], 3) for n, t in fig["rank"].items()},
            "stages_ms": {k: round(v, 2) for k, v in fig["stages_ms"].items()}, "peak_rss_mb": round(fig["peak_rss_mb"], 1)}


def register(app: typer.Typer) -> None:
    """Add ``c4u select``, ``c4u rank`` and ``c4u bench`` to the main app."""
    app.command("select")(select)
    app.command("rank")(rank)
    app.command("bench")(bench)
