"""Every benchmark command the docs show runs, as a real process, on the tiny export with the fewest runs: the
"Every benchmark" table of docs/benchmarks.md in the default run (where a command takes longer, a quicker variant of
it), every other documented command with `-m slow`; so a refactor cannot break one silently. Paths, sizes and
counts are replaced by the tiny fixtures' and the smallest ones, appended to the documented flags (argparse keeps a
flag's last value)."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from openvino_support import HAVE_OPENVINO

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
SCRIPTS = sorted(p.name for p in (ROOT / "benchmarks").glob("*.py"))
COMMAND = re.compile(r"python benchmarks/(\w+\.py)([^`\n]*)")
OPENVINO_SCRIPTS = ("openvino_decode.py", "openvino_profile.py", "openvino_int8_forms.py")


@dataclass(frozen=True)
class Smoke:
    args: tuple[str, ...]  # appended to the documented command: {export}, {model}, {pairs}, {tmp} and the smallest sizes
    keys: tuple[str, ...]  # what the last JSON line holds
    slow: bool = False  # the documented command takes longer than ~20 s here: it runs with -m slow
    quick: tuple[str, ...] = ()  # more flags for a variant that runs in the default run too (of a slow or a CUDA command)
    cuda: bool = False  # the documented command needs an NVIDIA GPU


TINY_SERVE = ("--export", "{export}", "--image-px", "64", "--phase-seconds", "60")
SMOKE = {
    "bench_runtime.py": Smoke(("--export", "{export}", "--model", "{model}", "--workdir", "{tmp}", "--runs", "1", "--warmup", "0",
                               "--batch-sizes", "1", "--rank-sizes", "4", "--rank-runs", "1", "--generate-tokens", "2",
                               "--explain-runs", "1", "--threads", "1"), ("bench", "export", "ratios", "met"),
                              quick=("--prefix-reuse", "both")),  # side by side (each backend with and without prefix reuse)
    "rank_scale.py": Smoke(("--export", "{export}", "--sizes", "16", "--seeds", "2", "--images", "4", "--runs", "1", "--work", "{tmp}"),
                           ("machine", "simulated")),
    "int8_variants.py": Smoke(("--export", "{export}", "--unfused-export", "{export}", "--runs", "1", "--calib", "1", "--heads", "2",
                               "--hidden", "32"), ("machine", "variants")),
    "int8_drift.py": Smoke(("--export", "{export}", "--pairs", "{pairs}", "--load-runs", "1"), ("machine", "drift", "probe_cost")),
    "int8_rel_err.py": Smoke(("--export", "{export}", "--pairs", "2"), ("bench", "variants")),
    "fused_vs_unfused.py": Smoke(("--base", "{export}", "--new", "{export}", "--model", "{model}", "--runs", "1", "--warmup", "0",
                                  "--image-size", "64"), ("median_ms", "limit_ms", "met")),
    "serve_load.py": Smoke(TINY_SERVE + ("--requests", "4", "--concurrency", "1,2", "--rss-requests", "20", "--pool", "4"),
                           ("in_process_serial", "batching_on", "rss", "kill9", "figures")),
    "openvino_profile.py": Smoke(("--export", "{export}", "--model", "{model}", "--runs", "1", "--image-size", "64"), ("profile", "gemm_gops")),
    "openvino_decode.py": Smoke(("--export", "{export}", "--tokens", "4", "--runs", "1", "--workdir", "{tmp}"),
                                ("ms_per_token_p50", "openvino_ways_agree")),
    "openvino_int8_forms.py": Smoke(("--model", "{model}", "--export", "{export}", "--calib", "{pairs}", "--calib-pairs", "2", "--pairs",
                                     "{pairs}", "--time-runs", "1", "--forms", "static,dynamic-g32", "--work", "{tmp}"), ("forms", "machine")),
    "batch_throughput.py": Smoke(("--export", "{export}", "--groups", "4", "--rounds", "1"), ("cpu", "table", "steady_vs_one_process"), slow=True,
                                 quick=("--configs", "one_process_2_threads,local_2_workers_1_thread")),
    "compare_processes.py": Smoke(("--export", "{export}", "--rounds", "1", "--runs", "1", "--workdir", "{tmp}"), ("p50_ms", "ratios")),
    "serve_abuse.py": Smoke(("--export", "{export}", "--requests", "20", "--concurrency", "2", "--bomb-mb", "1", "--idle-uploads", "4",
                             "--idle-sockets", "8"), ("passed", "seconds_to_ready"), slow=True, quick=("--phases", "refusals,mixed")),
    "json_decoders.py": Smoke(("--repeats", "1"), ("rows", "versions"), slow=True, quick=("--cases", "empty_objects_3MB,number_5000_digits")),
    "teacher_learnability.py": Smoke(("--work", "{tmp}", "--train", "8", "--heldout", "4", "--preset", "tiny", "--epochs", "1",
                                      "--batch-size", "4", "--grpo-steps", "1", "--max-new-tokens", "8", "--eval-batch", "4"),
                                     ("accuracy_after_sft", "accuracy_after_grpo"), slow=True),
    "distill_agreement.py": Smoke(("--work", "{tmp}", "--teacher", "{model}", "--train", "8", "--heldout", "4", "--label-max-new-tokens", "8",
                                   "--student-epochs", "1", "--student-batch", "4"), ("agreement", "passed"), slow=True),
    "annotate_agreement.py": Smoke(("--annotator", "{model}", "--pairs", "{pairs}", "--n", "2", "--max-new-tokens", "8", "--retries", "0",
                                    "--batch-size", "2", "--work", "{tmp}"), ("acceptance_rate", "agreement_with_truth")),
    "explain_parity.py": Smoke(("--export", "{export}", "--model", "{model}", "--pairs", "{pairs}", "--n", "2", "--max-new-tokens", "4"),
                               ("fp32", "int8")),
    "export_sizes.py": Smoke(("--preset", "tiny", "--pairs", "2", "--runs", "1", "--no-warmup", "--no-decoder"),
                             ("graph_mib", "pair_latency_s", "parity"), slow=True),
    "verdict_vs_generate.py": Smoke(("--preset", "tiny", "--runs", "1", "--warmup", "0", "--new-tokens", "2"), ("scorer_both_orders_s", "ratio")),
    "gpu_scorer.py": Smoke(("--preset", "tiny", "--runs", "1", "--warmup", "0", "--batch-sizes", "1,2", "--image-size", "64"), ("device", "dtypes"),
                           quick=("--device", "cpu", "--dtypes", "float32"), cuda=True),
}


def _commands(text: str) -> list[tuple[str, tuple[str, ...]]]:
    """(script, its flags) of every `python benchmarks/x.py ...` in a page (continued lines joined)."""
    return [(m.group(1), tuple(shlex.split(m.group(2)))) for m in COMMAND.finditer(text.replace("\\\n", " "))]


def table_commands() -> dict[str, tuple[str, ...]]:
    """script -> its command in the table under "## Every benchmark" of docs/benchmarks.md."""
    text = (DOCS / "benchmarks.md").read_text()
    section = text.split("## Every benchmark", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return dict(cmd for row in rows for cmd in _commands(row))


def other_commands() -> list[tuple[str, str, tuple[str, ...]]]:
    """(where, script, flags) of every other documented benchmark command, each once."""
    table, seen, out = set(table_commands().items()), set(), []
    for page in sorted(DOCS.glob("*.md")):
        for i, (script, flags) in enumerate(_commands(page.read_text())):
            if (script, flags) not in table | seen:
                seen.add((script, flags))
                out.append((f"{page.name}:{i}:{script}", script, flags))
    return out


def _argv(flags: tuple[str, ...], smoke: Smoke, fill: dict, quick: bool) -> list[str]:
    """The documented flags with the fixtures in place of EXPORT, MODEL, ..., other placeholders and "..." dropped, then
    the smoke's own flags (and its quick ones)."""
    placeholders = {"EXPORT": fill["export"], "EXPORT_NOFUSE": fill["export"], "MODEL": fill["model"], "PAIRS": fill["pairs"], "TEACHER": fill["model"]}
    argv = [placeholders.get(f, f) for f in flags if f != "..." and (f in placeholders or not re.fullmatch(r"[A-Z_]+", f))]
    return argv + [a.format(**fill) for a in smoke.args + (smoke.quick if quick else ())]


@pytest.fixture
def fill(tiny_export, tiny_model_dir, pairs_subset, tmp_path):
    return {"export": str(tiny_export), "model": str(tiny_model_dir), "pairs": str(pairs_subset(4)), "tmp": str(tmp_path / "work")}


def _skip_unless_runnable(script: str, argv: list[str], cuda: bool) -> None:
    if cuda:
        torch = pytest.importorskip("torch")
        if not torch.cuda.is_available():
            pytest.skip(f"{script}: this command needs CUDA and there is no NVIDIA GPU here")
    if (script in OPENVINO_SCRIPTS or "openvino" in " ".join(argv)) and not HAVE_OPENVINO:
        pytest.skip(f"{script}: this command runs OpenVINO, which is not installed: pip install '.[export-openvino]'")


def run_script(script: str, argv: list[str], keys: tuple[str, ...]) -> dict:
    """Run ``benchmarks/script`` with ``argv`` in its own process; its last line, parsed, holding ``keys``."""
    out = subprocess.run([sys.executable, f"benchmarks/{script}", *argv], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, f"{script} {shlex.join(argv)}: exit {out.returncode}\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}"
    line = json.loads(out.stdout.strip().splitlines()[-1])
    assert set(keys) <= set(line), (script, sorted(line))
    return line


def _cases():
    """The table's commands: as documented (slow or CUDA ones marked and skipped) and their quick variants."""
    for script, flags in table_commands().items():
        smoke = SMOKE[script]
        yield pytest.param(script, flags, False, id=script, marks=[pytest.mark.slow] if smoke.slow else [])
        if smoke.quick:
            yield pytest.param(script, flags, True, id=f"{script}-quick")


def test_every_script_has_a_row_in_the_table_and_a_smoke_setting():
    assert sorted(table_commands()) == SCRIPTS, "give every benchmarks/*.py a row (with its command) in docs/benchmarks.md's table"
    assert sorted(SMOKE) == SCRIPTS, "give every benchmarks/*.py its tiny flags in SMOKE"


@pytest.mark.parametrize("script, flags, quick", list(_cases()))
def test_table_command_runs(script, flags, quick, fill):
    smoke = SMOKE[script]
    argv = _argv(flags, smoke, fill, quick)
    _skip_unless_runnable(script, argv, smoke.cuda and not quick)
    run_script(script, argv, smoke.keys)  # serve_abuse.py also exits 1 when a check of the server failed


@pytest.mark.slow
@pytest.mark.parametrize("where, script, flags", [pytest.param(*c, id=c[0]) for c in other_commands()])
def test_other_documented_command_runs(where, script, flags, fill):
    smoke = SMOKE[script]
    argv = _argv(flags, smoke, fill, quick=False)
    _skip_unless_runnable(script, argv, smoke.cuda)
    run_script(script, argv, smoke.keys)


@pytest.mark.slow
def test_bench_runtime_builds_its_export_from_a_preset(tmp_path):
    """Without --export, the runtime benchmark builds the preset's model and export in --workdir first."""
    line = run_script("bench_runtime.py", ["--preset", "tiny", "--workdir", str(tmp_path), "--calib-pairs", "1", "--runs", "1", "--warmup", "0",
                                           "--batch-sizes", "1", "--rank-sizes", "4", "--generate-tokens", "2", "--explain-runs", "1"],
                      SMOKE["bench_runtime.py"].keys)
    assert line["export"] == str(tmp_path / "export") and (tmp_path / "model" / "config.json").is_file()
