"""`c4u export`: ONNX graphs, INT8, TensorRT engines and a Triton repository, with a parity report."""

from __future__ import annotations

from pathlib import Path

import typer

from creative4u_small.cli.common import emit_json, fail, friendly_errors, progress_bar, say

def _h(name: str) -> str:
    """Option help from the config dataclass (written once, there), without importing torch."""
    from creative4u_small.export.export_config import ExportConfig

    return ExportConfig.help(name)


def _d(name: str):
    """An option's default from the config dataclass."""
    from creative4u_small.export.export_config import ExportConfig

    return ExportConfig.__dataclass_fields__[name].default


@friendly_errors
def export(
    model: Path = typer.Option(..., "--model", help=_h("model")),
    out: Path = typer.Option(..., "--out", help=_h("out")),
    int8: bool = typer.Option(False, "--int8", help=_h("int8")),
    trt: bool = typer.Option(False, "--trt", help=_h("trt")),
    triton: bool = typer.Option(False, "--triton", help=_h("triton")),
    calib: Path = typer.Option(None, "--calib", help=_h("calib")),
    calib_pairs: int = typer.Option(50, "--calib-pairs", help=_h("calib_pairs")),
    no_decoder: bool = typer.Option(False, "--no-decoder", help="Skip the KV-cache decoder graphs (no on-demand rationale)."),
    margin: float = typer.Option(0.05, "--margin", help=_h("margin")),
    min_decisive: int = typer.Option(10, "--min-decisive", help=_h("min_decisive")),
    fp32_max_dp: float = typer.Option(1e-4, "--fp32-max-dp", help=_h("fp32_max_dp")),
    int8_agreement: float = typer.Option(0.99, "--int8-agreement", help=_h("int8_agreement")),
    int8_max_dp: float = typer.Option(_d("int8_max_dp"), "--int8-max-dp", help=_h("int8_max_dp")),
    int8_max_rel_err: float = typer.Option(_d("int8_max_rel_err"), "--int8-max-rel-err", help=_h("int8_max_rel_err")),
    int8_min_weights: int = typer.Option(_d("int8_min_weights"), "--int8-min-weights", help=_h("int8_min_weights")),
    probe_pairs: int = typer.Option(_d("probe_pairs"), "--probe-pairs", help=_h("probe_pairs")),
    opset: int = typer.Option(18, "--opset", help=_h("opset")),
    no_dynamo: bool = typer.Option(False, "--no-dynamo", help="Use the TorchScript exporter only (faster; dynamo is tried first by default)."),
    trt_max_rows: int = typer.Option(16, "--trt-max-rows", help=_h("trt_max_rows")),
    trt_max_seq: int = typer.Option(0, "--trt-max-seq", help=_h("trt_max_seq")),
    threads: int = typer.Option(0, "--threads", help=_h("threads")),
    overwrite: bool = typer.Option(False, "--overwrite", help=_h("overwrite")),
):
    """Export vision/judge/decoder ONNX graphs, optional INT8, TensorRT and Triton, and check parity.

    Example: c4u export --model models/student --out exports/student --int8 --triton --calib data/heldout.jsonl
    """
    from creative4u_small.export.export_config import ExportConfig
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
