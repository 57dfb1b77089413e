"""The `c4u` command line: thin typer commands that parse, then call plain functions.

Heavy libraries (torch, transformers, onnx) are imported inside the commands that need them,
so `c4u --help` and the runtime commands stay light.
"""

from __future__ import annotations

import typer

from creative4u_small.cli import batch, data, distill, export, model, quickstart, runtime, teacher
from creative4u_small.cli import serve as serve_cli

app = typer.Typer(
    name="c4u",
    help="creative4u-small: pick the ad creative users will click, with a small exportable VLM.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
app.add_typer(data.app, name="data")
app.add_typer(model.app, name="model")
distill.register(app)  # c4u distill, c4u eval
teacher.register(app)  # c4u teacher sft|grpo, c4u label
export.register(app)  # c4u export
runtime.register(app)  # c4u select, c4u rank, c4u bench
quickstart.register(app)  # c4u quickstart
serve_cli.register(app)  # c4u serve
batch.register(app)  # c4u batch


def main() -> None:
    app()
