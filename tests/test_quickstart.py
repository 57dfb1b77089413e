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


@pytest.mark.parametrize("fast", [False, True], ids=["full", "fast"])
def test_every_stage_command_line_parses_back_into_its_stage_config(fast, tmp_path, monkeypatch):
    """Every stage's argv is built from its config (contract.settings.command_line): run through the real `c4u`
    parser, it gives that config back; and a stage config the quickstart holds reaches it with only this run's paths
    (and seed, and a fresh start) filled in."""
    from dataclasses import fields, replace

    from typer.testing import CliRunner

    from creative4u_small.cli import app, config_options
    from creative4u_small.quickstart.pipeline import stages

    cfg = QuickstartConfig().fast() if fast else QuickstartConfig()
    build, parsed = config_options._build, []

    def capture(config, values):  # the config a command builds from its options: kept, and the command stops there
        built = build(config, values)
        if isinstance(built, type(want)):
            parsed.append(built)
            raise SystemExit(0)
        return built

    monkeypatch.setattr(config_options, "_build", capture)
    held = {"teacher-sft": cfg.sft, "teacher-grpo": cfg.grpo, "label": cfg.label, "label-heldout": cfg.label, "distill": cfg.distill,
            "eval": cfg.eval, "export": cfg.export, "rank": cfg.rank, "bench": cfg.bench}
    plan = stages(cfg, tmp_path)
    assert all(stage.config is not None for stage in plan)
    for stage in plan:
        want = stage.config
        parsed.clear()
        CliRunner().invoke(app, [str(a) for a in stage.argv[3:]], catch_exceptions=False)
        assert len(parsed) == 1 and _as_text(parsed[0]) == _as_text(want), stage.name  # a path given as text stays text
        if stage.name in held:
            template = held[stage.name]
            run_values = {f.name: getattr(want, f.name) for f in fields(want)
                          if str(tmp_path) in str(getattr(want, f.name)) or f.name in ("seed", "overwrite", "query", "top_k")}
            assert want == replace(template, **run_values), stage.name
            assert "(set when the stage runs)" not in str(want), stage.name


def _as_text(cfg) -> str:
    """A config with paths written as text (a str field given a Path by the quickstart parses back as str)."""
    from dataclasses import asdict

    return f"{type(cfg).__name__}{json.dumps(asdict(cfg), default=str, sort_keys=True)}"


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
