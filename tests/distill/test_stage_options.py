"""Every option of the training, labelling, annotation and evaluation commands is a field of the stage's config,
with the config's help and default: the settings are declared once, in the dataclass."""

from dataclasses import MISSING, fields

import pytest
import typer

from creative4u_small.cli import app
from creative4u_small.distill.annotate.annotate_config import AnnotateConfig
from creative4u_small.distill.evaluate.eval_config import EvalConfig
from creative4u_small.distill.label.label_config import LabelConfig
from creative4u_small.distill.student.distill_config import DistillConfig
from creative4u_small.distill.teacher.grpo_config import TeacherGRPOConfig
from creative4u_small.distill.teacher.sft_config import TeacherSFTConfig

COMMANDS = {
    ("teacher", "sft"): (TeacherSFTConfig, ()),
    ("teacher", "grpo"): (TeacherGRPOConfig, ()),
    ("label",): (LabelConfig, ()),
    ("distill",): (DistillConfig, ("lora_targets",)),  # a tuple of module names: Python callers only
    ("eval",): (EvalConfig, ()),
    ("data", "annotate"): (AnnotateConfig, ()),
}


def command(path):
    cmd = typer.main.get_command(app)
    for name in path:
        cmd = cmd.commands[name]
    return cmd


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_options_are_the_config_fields_with_their_help_and_default(path):
    config, python_only = COMMANDS[path]
    params = {p.name: p for p in command(path).params}
    expected = [f for f in fields(config) if f.name not in python_only]
    assert sorted(params) == sorted(f.name for f in expected)
    for f in expected:
        assert params[f.name].help == f.metadata["help"], f.name
        assert params[f.name].required == (f.default is MISSING), f.name
        if f.default is not MISSING:
            assert params[f.name].default == f.default, f.name


def test_the_distill_command_keeps_its_flags_for_the_shared_fields():
    opts = {p.name: p.opts for p in command(("distill",)).params}
    assert opts["model"] == ["--student"] and opts["data"] == ["--labels"] and opts["learning_rate"] == ["--lr"]
    assert "--lora-r" in opts["lora_r"][0]
