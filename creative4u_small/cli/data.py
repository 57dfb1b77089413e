"""`c4u data`: validate, build, synthesise and annotate CreativePair files."""

from __future__ import annotations

from pathlib import Path

import typer

from creative4u_small.cli.common import emit_json, fail, friendly_errors, progress_bar, say, with_progress
from creative4u_small.cli.config_options import fields_of, from_config
from creative4u_small.contract.artifacts import check_fresh_output
from creative4u_small.contract.pairs import validate_pairs
from creative4u_small.data.ctr_pairs import pairs_from_ctr
from creative4u_small.data.shift import synthesize_shift
from creative4u_small.data.synth import synthesize
from creative4u_small.data.synth.synth_config import SynthConfig
from creative4u_small.distill.annotate.annotate import annotate_pairs, summary_lines
from creative4u_small.distill.annotate.annotate_config import AnnotateConfig

app = typer.Typer(help="CreativePair data: validate, build from CTR logs, synthesise, annotate with rationales.", no_args_is_help=True)


@app.command("validate")
@friendly_errors
def validate(
    path: Path = typer.Argument(..., help="CreativePair JSONL file."),
    no_decode: bool = typer.Option(False, "--no-decode", help="Only check that image files exist; do not decode them."),
):
    """Report every bad line (line number, field, reason); exit non-zero if any.

    Example: c4u data validate data/pairs.jsonl
    """

    good, problems = validate_pairs(path, decode_images=not no_decode)
    for p in problems:
        typer.echo(str(p), err=True)
    if problems:
        fail(f"{len(problems)} problem(s) in {path}; {good} good pair(s)", 1)
    typer.echo(f"{path}: {good} pairs OK")


@app.command("synth")
@friendly_errors
@from_config(SynthConfig, fields_of(SynthConfig))
def synth(cfg: SynthConfig):
    """Render a synthetic CreativePair set (always marked synthetic).

    Example: c4u data synth --n 1000 --out data/synth --seed 0   (--kind shift: creatives unlike these, unlabelled)
    """

    check_fresh_output(cfg.out, cfg.overwrite, "synth output")
    say(f"rendering {cfg.n} synthetic {'shift ' if cfg.kind == 'shift' else ''}pairs into {cfg.out}")
    progress, update = progress_bar("synth", cfg.n)
    render = synthesize_shift if cfg.kind == "shift" else synthesize
    with progress:
        path = render(cfg.n, cfg.out, seed=cfg.seed, image_size=cfg.image_size, progress=update)
    typer.echo(str(path))


@app.command("pairs")
@friendly_errors
def pairs(
    log: Path = typer.Option(..., "--from-ctr", help="Impression/click log: JSONL or CSV with product_id, query, image, impressions, clicks (title optional)."),
    out: Path = typer.Option(..., "--out", help="Output CreativePair JSONL."),
    min_impressions: int = typer.Option(1000, "--min-impressions", min=0, help="Impression floor for both creatives."),
    min_gap: float = typer.Option(0.6, "--min-gap", min=0.0, help="Relative CTR gap, (hi - lo) / lo, required for a pair."),
):
    """Build pairs from CTR logs: same product and query, both above the impression floor, CTR gap above the threshold.

    Example: c4u data pairs --from-ctr logs/ctr.jsonl --out data/pairs.jsonl --min-impressions 1000 --min-gap 0.6
    """

    summary = pairs_from_ctr(log, out, min_impressions=min_impressions, min_gap=min_gap)
    emit_json(summary)


@app.command("annotate")
@friendly_errors
@from_config(AnnotateConfig, fields_of(AnnotateConfig))
def annotate(cfg: AnnotateConfig):
    """Protocol rationales for labelled pairs, written by a strong MLLM told the winner, then strictly filtered.

    Example: c4u data annotate --pairs data/pairs.jsonl --out data/cot_pairs.jsonl --annotator http://localhost:8000/v1 --orders both
    """

    say(f"annotating {cfg.pairs} with {cfg.annotator} into {cfg.out}")
    summary = with_progress("annotate", annotate_pairs, cfg, warn=say)
    for line in summary_lines(summary):
        say(line)
    emit_json({k: v for k, v in summary.items() if k != "per_query"})
