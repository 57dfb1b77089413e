"""The `c4u` command line: thin typer commands that parse, then call plain functions.

Heavy libraries (torch, transformers, onnx) are imported inside the commands that need them,
so `c4u --help` and the runtime commands stay light.
"""

from __future__ import annotations

import typer

from creative4u_small.cli import data, model

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
__import__("creative4u_small.cli.distill", fromlist=["register"]).register(app)  # c4u distill, c4u eval
__import__("creative4u_small.cli.teacher", fromlist=["register"]).register(app)  # c4u teacher sft|grpo, c4u label
__import__("creative4u_small.cli.export", fromlist=["register"]).register(app)  # c4u export
__import__("creative4u_small.cli.runtime", fromlist=["register"]).register(app)  # c4u select, c4u rank, c4u bench
__import__("creative4u_small.cli.quickstart", fromlist=["register"]).register(app)  # c4u quickstart


def main() -> None:
    app()
