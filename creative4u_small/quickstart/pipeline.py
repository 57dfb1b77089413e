"""The whole pipeline on synthetic data, stage by stage, each a real `c4u` command.

Each stage runs as its own process (what a user would type), prints one line of what it does,
and leaves a marker when it completes; a rerun skips completed stages, and labelling resumes
where a killed run stopped.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from creative4u_small.contract.settings import command_line
from creative4u_small.data.synth.synth_config import SynthConfig
from creative4u_small.modeling.init_config import ModelInitConfig
from creative4u_small.quickstart.config import REFERENCE_RUN, QuickstartConfig
from creative4u_small.quickstart.results import build_report


@dataclass(frozen=True)
class Stage:
    name: str
    message: str
    argv: tuple[str, ...]
    stdout: Path | None = None  # where the command's JSON output is kept
    config: object = None  # the stage config the command line was built from (contract.settings.command_line)


def c4u(*args) -> tuple[str, ...]:
    return (sys.executable, "-m", "creative4u_small.cli", *map(str, args))


def stage(name: str, message: str, command: tuple, config, *more, stdout: Path | None = None) -> Stage:
    """A stage that runs `c4u COMMAND` with the flags that make ``config`` (then ``more`` words)."""
    return Stage(name, message, c4u(*command, *command_line(config), *more), stdout, config)


def stages(cfg: QuickstartConfig, out: Path) -> list[Stage]:
    d, m = out / "data", out / "models"
    train, unl, held = (d / k / "pairs.jsonl" for k in ("train", "unlabelled", "heldout"))
    labels, held_labels = out / "labels" / "train.jsonl", out / "labels" / "heldout.jsonl"

    def synth(name, message, folder, n, seed):
        return stage(name, message, ("data", "synth"), SynthConfig(out=d / folder, n=n, seed=seed, image_size=cfg.image_size, overwrite=True))

    def init(name, preset, seed):
        return stage(f"{name}-init", f"building the {preset} {name} preset", ("model", "init"),
                     ModelInitConfig(preset=preset, out=m / f"{name}-init", seed=seed, overwrite=True))

    def run(*command, config, fresh: bool = False, **paths):
        """The stage config with this run's paths (and a fresh start: overwrite)."""
        return replace(config, **paths, **({"overwrite": True} if fresh else {}))

    def label(name, message, pairs, dest):
        return stage(name, message, ("label",), run(config=cfg.label, teacher=m / "teacher", pairs=pairs, out=dest, seed=cfg.seed))

    train_paths = dict(data=train, seed=cfg.seed, fresh=True)
    rank = replace(cfg.rank, export=out / "export", query=pool_query(held), top_k=cfg.pool_size)
    return [
        synth("synth", f"rendering {cfg.train_pairs} training pairs for the teacher", "train", cfg.train_pairs, cfg.seed),
        synth("synth-unlabelled", f"rendering {cfg.label_pairs} unlabelled pairs for the teacher to label", "unlabelled", cfg.label_pairs,
              cfg.seed + 500),
        synth("synth-heldout", f"rendering {cfg.heldout_pairs} held-out pairs", "heldout", cfg.heldout_pairs, cfg.seed + 1000),
        init("teacher", cfg.teacher_preset, cfg.seed),
        stage("teacher-sft", f"teacher CoT-SFT on {cfg.train_pairs} pairs in both orders (reason, then select)", ("teacher", "sft"),
              run(config=cfg.sft, model=m / "teacher-init", out=m / "teacher-sft", **train_paths)),
        stage("teacher-grpo", f"teacher GRPO ({cfg.grpo.max_steps} steps: format, accuracy, consistency and text-consistency rewards)",
              ("teacher", "grpo"), run(config=cfg.grpo, model=m / "teacher-sft", out=m / "teacher", **train_paths)),
        label("label", f"teacher labels {cfg.label_pairs} pairs in both orders (resumes after a kill)", unl, labels),
        label("label-heldout", "teacher labels the held-out pairs (its accuracy, the student's agreement)", held, held_labels),
        init("student", cfg.student_preset, cfg.seed + 1),
        stage("distill", "distilling the student (answer first, soft teacher verdicts + rationale)", ("distill",),
              run(config=cfg.distill, model=m / "student-init", out=m / "student", **{**train_paths, "data": labels})),
        stage("eval", "evaluating the student on the held-out pairs (verdicts and rationales)", ("eval",),
              run(config=cfg.eval, model=m / "student", pairs=held_labels, out=out / "eval" / "student.json"), stdout=out / "eval" / "stdout.json"),
        stage("export", "exporting the student: ONNX graphs, INT8, parity against PyTorch", ("export",),
              run(config=cfg.export, model=m / "student", out=out / "export", calib=held, fresh=True)),
        stage("rank", f"ranking a held-out pool of {cfg.pool_size} creatives with the INT8 runtime", ("rank", *pool_images(held, cfg.pool_size)),
              rank, "--json", stdout=out / "rank.json"),
        stage("bench", "benchmarking the runtime (fp32, INT8) against the transformers baseline", ("bench",),
              run(config=cfg.bench, export=out / "export", pairs=held, model=m / "student", json_out=out / "bench.json", plot=out / "latency.png"),
              stdout=out / "bench_summary.json"),
    ]


def _heldout_records(held: Path) -> list[dict]:
    return [json.loads(line) for line in held.read_text().splitlines() if line.strip()] if held.exists() else []


def pool_images(held: Path, n: int) -> list[str]:
    """The first ``n`` distinct creatives of the held-out set (resolved when the stage runs)."""
    out = []
    for rec in _heldout_records(held):
        for k in ("image_a", "image_b"):
            path = str(held.parent / rec[k])
            if path not in out:
                out.append(path)
    return out[:n] or [str(held.parent / "img")]


def pool_query(held: Path) -> str:
    recs = _heldout_records(held)
    return recs[0].get("query", "") if recs else ""


def work_units(cfg: QuickstartConfig) -> dict[str, int]:
    """How much work each long stage does, in the units of ``REFERENCE_RUN``."""
    tokens = 2 * cfg.label.k * cfg.label.max_new_tokens  # per pair: both orders, k samples, up to the cap each
    return {
        "teacher-sft": math.ceil(2 * cfg.train_pairs / cfg.sft.batch_size) * math.ceil(cfg.sft.epochs),
        "teacher-grpo": cfg.grpo.max_steps,
        "label": cfg.label_pairs * tokens,
        "label-heldout": cfg.heldout_pairs * tokens,
        "distill": math.ceil(cfg.label_pairs / cfg.distill.batch_size) * math.ceil(cfg.distill.epochs),
        "export": 1,
    }


def estimate(cfg: QuickstartConfig, skip=()) -> str:
    """One line: the long stages' work and the time it took per unit on the reference machine."""
    parts, total = [], 0.0
    for stage, units in work_units(cfg).items():
        if stage in skip:
            continue
        unit, ref_units, ref_seconds = REFERENCE_RUN[stage if stage != "label-heldout" else "label"]
        seconds = units * ref_seconds / ref_units
        total += seconds
        what = f"{units:,} {unit}" if unit else ""
        parts.append(f"{stage} {what} ~{_minutes(seconds)}".replace("  ", " "))
    if not parts:
        return "the long stages are done; the rest takes a few minutes"
    return (f"about {_minutes(total)} for the long stages at the reference machine's pace (2 CPU cores, docs/training.md "
            f"'Stage times'): " + ", ".join(parts) + "; each stage's bar shows its own ETA here")


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


def run(out: Path, fast: bool = False, config: QuickstartConfig | None = None, echo=print) -> Path:
    """Run every stage not yet done, then write the report; returns the report path."""

    cfg = config or QuickstartConfig()
    cfg = cfg.fast() if fast else cfg
    out = Path(out).resolve()
    marks = out / ".done"
    marks.mkdir(parents=True, exist_ok=True)
    (out / "quickstart_config.json").write_text(json.dumps({"fast": fast, **asdict(cfg)}, indent=2, default=str))
    timings_file = out / "timings.json"
    timings = json.loads(timings_file.read_text()) if timings_file.exists() else {}
    plan = stages(cfg, out)
    echo(estimate(cfg, skip={s.name for s in plan if (marks / s.name).exists()}))
    logs = out / "logs"
    logs.mkdir(exist_ok=True)
    env = {**os.environ, "HF_HUB_DISABLE_PROGRESS_BARS": "1"}  # no stray library bars between the stage bars
    for i, stage in enumerate(plan, 1):
        if (marks / stage.name).exists():
            echo(f"[{i}/{len(plan)}] {stage.name}: done earlier, skipped")
            continue
        # argv that depends on earlier outputs (the pool) is resolved now that they exist
        stage = next(s for s in stages(cfg, out) if s.name == stage.name)
        echo(f"[{i}/{len(plan)}] {stage.name}: {stage.message}")
        t0 = time.perf_counter()
        # a stage's JSON summary goes to its file, never to the terminal (progress bars stay on stderr)
        dest = stage.stdout or logs / f"{stage.name}.json"
        dest.parent.mkdir(parents=True, exist_ok=True)
        with open(dest.with_name(dest.name + ".tmp"), "wb") as fh:
            result = subprocess.run(stage.argv, stdout=fh, env=env)
        if result.returncode != 0:
            raise RuntimeError(f"quickstart stage {stage.name} failed (exit {result.returncode}); "
                               f"fix the cause and rerun the same command to resume from this stage")
        dest.with_name(dest.name + ".tmp").replace(dest)
        if stage.name == "rank":
            (out / "rank_query.json").write_text(json.dumps({"query": pool_query(out / "data" / "heldout" / "pairs.jsonl")}))
        timings[stage.name] = round(time.perf_counter() - t0, 1)
        timings_file.write_text(json.dumps(timings, indent=2))
        (marks / stage.name).touch()
    report = build_report(out, timings)
    echo(f"report: {report}")
    return report
