"""`c4u export`: ONNX graphs, INT8, OpenVINO IR, TensorRT engines and a Triton repository, with a parity report."""

from __future__ import annotations

import typer

from creative4u_small.cli.common import emit_json, fail, friendly_errors, progress_bar, say
from creative4u_small.cli.config_options import fields_of, from_config
from creative4u_small.export.export_config import ExportConfig
from creative4u_small.export.exporter import ParityFailed, run_export


@friendly_errors
@from_config(ExportConfig, fields_of(ExportConfig))
def export(cfg: ExportConfig):
    """Export vision/judge/decoder ONNX graphs, optional INT8, OpenVINO IR, TensorRT and Triton, and check parity.

    Example: c4u export --model models/student --out exports/student --int8 --openvino --calib data/heldout.jsonl
    """

    progress, _ = progress_bar("export")
    task = progress.task_ids[0]

    def update(stage: str, done: int, total: int) -> None:
        if not progress.live.is_started:  # the bar appears once the checks have passed
            say(f"exporting {cfg.model} into {cfg.out}")
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
