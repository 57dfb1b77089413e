"""End to end: `c4u quickstart --fast` runs every stage and its report holds real figures."""

import json
from math import comb

import pytest

from creative4u_small.quickstart.config import QuickstartConfig


def test_config_validation():
    with pytest.raises(ValueError, match="non-negative"):
        QuickstartConfig(train_pairs=-1)
    with pytest.raises(ValueError, match="pool_size"):
        QuickstartConfig(pool_size=1)
    fast = QuickstartConfig().fast()
    assert fast.train_pairs < QuickstartConfig().train_pairs


def test_the_up_front_estimate_scales_with_the_work_and_skips_finished_stages():
    from creative4u_small.quickstart.pipeline import estimate, work_units

    full = QuickstartConfig()
    double = QuickstartConfig(train_pairs=2 * full.train_pairs)
    assert work_units(double)["teacher-sft"] == 2 * work_units(full)["teacher-sft"]
    assert work_units(full)["teacher-sft"] == 2 * full.train_pairs // full.sft.batch_size * int(full.sft.epochs)
    line = estimate(full)
    assert line.startswith("about ") and "teacher-sft 1,000 steps" in line and "distill" in line
    assert "teacher-sft" not in estimate(full, skip={"teacher-sft"})
    assert "done" in estimate(full, skip=set(work_units(full)))


# stage -> (the cli module whose name the command calls, that name, where the config is among its arguments)
CALLS = {"teacher-sft": ("teacher", "with_progress", 2), "teacher-grpo": ("teacher", "with_progress", 2), "label": ("teacher", "with_progress", 2),
         "label-heldout": ("teacher", "with_progress", 2), "distill": ("distill", "with_progress", 2), "eval": ("distill", "with_progress", 2),
         "export": ("export", "run_export", 0), "bench": ("runtime", "run_bench", 0)}


@pytest.mark.parametrize("fast", [False, True], ids=["full", "fast"])
def test_every_stage_command_line_parses_back_into_its_stage_config(fast, tmp_path, monkeypatch):
    """The quickstart's argv is built from each stage's config (contract.settings.command_line): run through the
    real `c4u` parser, it gives that config back, with the run's paths."""
    import importlib
    from dataclasses import fields, replace

    from typer.testing import CliRunner

    from creative4u_small.cli import app
    from creative4u_small.quickstart.pipeline import stages

    cfg = QuickstartConfig().fast() if fast else QuickstartConfig()
    got = []

    def capture(*args, **kw):
        got.append(args)
        raise SystemExit(0)

    for module, name, _ in set(CALLS.values()):
        monkeypatch.setattr(importlib.import_module(f"creative4u_small.cli.{module}"), name, capture)
    configs = {"teacher-sft": cfg.sft, "teacher-grpo": cfg.grpo, "label": cfg.label, "label-heldout": cfg.label, "distill": cfg.distill,
               "eval": cfg.eval, "export": cfg.export, "bench": cfg.bench}
    for stage in stages(cfg, tmp_path):
        if stage.name not in CALLS:
            continue
        got.clear()
        CliRunner().invoke(app, [str(a) for a in stage.argv[3:]], catch_exceptions=False)
        parsed = got[0][CALLS[stage.name][2]]
        want = configs[stage.name]
        paths = {f.name: getattr(parsed, f.name) for f in fields(want) if str(tmp_path) in str(getattr(parsed, f.name))}
        assert parsed == replace(want, **paths, **({"overwrite": True} if getattr(parsed, "overwrite", False) else {})), stage.name
        assert all(f.name in paths for f in fields(want) if getattr(want, f.name) == "(set when the stage runs)"), (stage.name, paths)


def _binomial_tail(k: int, n: int) -> float:
    """P(X >= k) for X ~ Binomial(n, 1/2): how likely coin flips score this well."""
    return sum(comb(n, i) for i in range(k, n + 1)) / 2**n


def test_fast_quickstart_end_to_end(tmp_path):
    from typer.testing import CliRunner

    from creative4u_small.cli import app
    from creative4u_small.runtime.manifest import read_manifest

    out = tmp_path / "qs"
    result = CliRunner().invoke(app, ["quickstart", "--fast", "--out", str(out)])
    assert result.exit_code == 0, result.output
    res = json.loads((out / "results.json").read_text())

    student = res["student"]
    n, acc = student["n"], student["accuracy"]
    assert n == QuickstartConfig().fast().heldout_pairs
    assert _binomial_tail(round(acc * n), n) < 0.01, f"student accuracy {acc:.2f} on {n} pairs is not above chance"
    # the fast run's `tiny` teacher need not beat chance (QuickstartConfig.fast), but its figure must be its own:
    # the share of held-out pairs whose teacher verdict, as labelled on disk, equals the ground truth
    held = [json.loads(line) for line in (out / "labels" / "heldout.jsonl").read_text().splitlines() if line.strip()]
    assert len(held) == n
    assert res["teacher"]["accuracy"] == pytest.approx(sum(r["teacher"]["verdict"] == r["label"] for r in held) / n)

    manifest = read_manifest(out / "export")
    assert manifest.status in ("passed", "unverified") and set(manifest.parity) >= {"fp32", "int8"}
    for fig in manifest.parity.values():
        assert fig["status"] != "failed" and fig["max_abs_dp_a"] < 0.05

    order = res["rank"]["order"]
    assert len(order) == QuickstartConfig().fast().pool_size and len(set(order)) == len(order)
    html = (out / "report.html").read_text()
    assert f"{100 * acc:.1f}%" in html and "ranked contact sheet" in html and "latency chart" in html
    assert (out / "ranked_pool.png").stat().st_size > 0 and (out / "latency.png").stat().st_size > 0

    assert "about " in result.output and "{\n" not in result.output  # the estimate up front; stage JSON kept in logs/
    assert json.loads((out / "logs" / "teacher-init.json").read_text())["preset"] == "tiny"
    rerun = CliRunner().invoke(app, ["quickstart", "--fast", "--out", str(out)])
    assert rerun.exit_code == 0 and rerun.output.count("done earlier, skipped") == 14
