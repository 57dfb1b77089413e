"""`c4u export`: ONNX graphs, INT8, TensorRT engines and a Triton repository, with a parity report."""

from __future__ import annotations

from pathlib import Path

import typer

from creative4u_small.cli.common import emit_json, fail, friendly_errors, option, progress_bar, say
from creative4u_small.export.export_config import ExportConfig


@friendly_errors
def export(
    model: Path = option(ExportConfig, "model", "--model", required=True),
    out: Path = option(ExportConfig, "out", "--out", required=True),
    int8: bool = option(ExportConfig, "int8", "--int8"),
    trt: bool = option(ExportConfig, "trt", "--trt"),
    triton: bool = option(ExportConfig, "triton", "--triton"),
    calib: Path = option(ExportConfig, "calib", "--calib"),
    calib_pairs: int = option(ExportConfig, "calib_pairs", "--calib-pairs"),
    no_decoder: bool = typer.Option(False, "--no-decoder", help="Skip the KV-cache decoder graphs (no on-demand rationale)."),
    margin: float = option(ExportConfig, "margin", "--margin"),
    min_decisive: int = option(ExportConfig, "min_decisive", "--min-decisive"),
    fp32_max_dp: float = option(ExportConfig, "fp32_max_dp", "--fp32-max-dp"),
    int8_agreement: float = option(ExportConfig, "int8_agreement", "--int8-agreement"),
    int8_max_dp: float = option(ExportConfig, "int8_max_dp", "--int8-max-dp"),
    int8_max_rel_err: float = option(ExportConfig, "int8_max_rel_err", "--int8-max-rel-err"),
    int8_min_weights: int = option(ExportConfig, "int8_min_weights", "--int8-min-weights"),
    probe_pairs: int = option(ExportConfig, "probe_pairs", "--probe-pairs"),
    opset: int = option(ExportConfig, "opset", "--opset"),
    no_dynamo: bool = typer.Option(False, "--no-dynamo", help="Use the TorchScript exporter only (faster; dynamo is tried first by default)."),
    trt_max_rows: int = option(ExportConfig, "trt_max_rows", "--trt-max-rows"),
    trt_max_seq: int = option(ExportConfig, "trt_max_seq", "--trt-max-seq"),
    threads: int = option(ExportConfig, "threads", "--threads"),
    overwrite: bool = option(ExportConfig, "overwrite", "--overwrite"),
):
    """Export vision/judge/decoder ONNX graphs, optional INT8, TensorRT and Triton, and check parity.

    Example: c4u export --model models/student --out exports/student --int8 --triton --calib data/heldout.jsonl
    """
    from creative4u_small.export.exporter import ParityFailed, run_export

    cfg = ExportConfig(model=model, out=out, int8=int8, trt=trt, triton=triton, calib=calib, calib_pairs=calib_pairs,
                       decoder=not no_decoder, margin=margin, min_decisive=min_decisive, fp32_max_dp=fp32_max_dp,
                       int8_agreement=int8_agreement, int8_max_dp=int8_max_dp, int8_max_rel_err=int8_max_rel_err,
                       int8_min_weights=int8_min_weights, probe_pairs=probe_pairs, opset=opset, trt_max_rows=trt_max_rows, trt_max_seq=trt_max_seq,
                       prefer_dynamo=not no_dynamo, threads=threads, overwrite=overwrite)
    progress, _ = progress_bar("export")
    task = progress.task_ids[0]

    def update(stage: str, done: int, total: int) -> None:
        if not progress.live.is_started:  # the bar appears once the checks have passed
            say(f"exporting {model} into {out}")
            progress.start()
        progress.update(task, description=stage, completed=done, total=total)

    try:
        summary = run_export(cfg, update)
    except ParityFailed as e:
        _stop(progress)
        fail(str(e), 3)
    finally:
        _stop(progress)
    emit_json(summary)
    if summary["status"] == "unverified":
        say("parity UNVERIFIED: too few decisive pairs (an untrained model?); see parity.md — this export is not vouched for")


def _stop(progress) -> None:
    if progress.live.is_started:
        progress.stop()


def register(app: typer.Typer) -> None:
    """Add ``c4u export`` to the main app."""
    app.command("export")(export)
