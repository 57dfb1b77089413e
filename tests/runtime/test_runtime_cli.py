"""`c4u select`, `c4u rank`, `c4u bench` on the tiny export; no torch unless the baseline asks for it."""

from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

from creative4u_small.cli import app


def _json(output: str) -> dict:
    return json.loads(output[output.index("{"):])


def test_select_json(tiny_export, synth_pairs):
    p = synth_pairs[0]
    r = CliRunner().invoke(app, ["select", str(p.image_a), str(p.image_b), "--export", str(tiny_export),
                                 "--query", p.query, "--title", p.title, "--json", "--explain", "--max-new-tokens", "4"])
    assert r.exit_code == 0, r.output
    out = _json(r.stdout)
    assert out["winner"] in ("A", "B") and 0 <= out["p_a"] <= 1 and out["backend"] == "cpu"
    assert isinstance(out["rationale"], str) and "judge" in out["timings_ms"]
    ex = out["explanation"]  # 4 tokens of a random tiny model: never a complete protocol
    assert ex["parsed"] is False and ex["error"].startswith("unparsed") and ex["text"] == out["rationale"]
    assert ex["protocol"] is None and ex["verdict"] == out["winner"]


def test_select_explain_prints_unparsed_rationale_flagged(tiny_export, synth_pairs):
    p = synth_pairs[0]
    r = CliRunner().invoke(app, ["select", str(p.image_a), str(p.image_b), "--export", str(tiny_export),
                                 "--explain", "--max-new-tokens", "4"])
    assert r.exit_code == 0, r.output
    assert "rationale unparsed:" in r.stdout and "(raw text follows)" in r.stdout


def test_rank_a_folder(tiny_export, synth_dir):
    r = CliRunner().invoke(app, ["rank", str(synth_dir / "img"), "--export", str(tiny_export), "--top-k", "3", "--json",
                                 "--round-robin-max", "4"])
    assert r.exit_code == 0, r.output
    out = _json(r.stdout)
    assert len(out["order"]) == 3 and out["strategy"] == "swiss+challenge"
    assert out["images_encoded"] == len(list((synth_dir / "img").iterdir()))


def test_bad_input_is_one_red_line(tiny_export, tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("hello")
    r = CliRunner().invoke(app, ["select", str(bad), str(bad), "--export", str(tiny_export)])
    assert r.exit_code == 2 and "notes.png: not a readable image" in r.output and "Traceback" not in r.output
    r = CliRunner().invoke(app, ["rank", str(tmp_path / "empty"), "--export", str(tiny_export)])
    assert r.exit_code == 2 and "no such image file or folder" in r.output
    r = CliRunner().invoke(app, ["select", str(bad), str(bad), "--export", str(tmp_path)])
    assert r.exit_code == 2 and "manifest.json: not found" in r.output
    r = CliRunner().invoke(app, ["bench", "--export", str(tiny_export), "--baseline", "transformers"])
    assert r.exit_code == 2 and "needs --model" in r.output


def test_runtime_commands_do_not_import_torch(tiny_export, synth_pairs, tmp_path):
    p = synth_pairs[0]
    code = (
        "import sys\nfrom typer.testing import CliRunner\nfrom creative4u_small.cli import app\n"
        f"r = CliRunner().invoke(app, ['select', {str(p.image_a)!r}, {str(p.image_b)!r}, '--export', {str(tiny_export)!r}, '--json'])\n"
        "assert r.exit_code == 0, r.output\n"
        f"r = CliRunner().invoke(app, ['bench', '--export', {str(tiny_export)!r}, '--runs', '2', '--warmup', '1', '--batch-sizes', '1,2',"
        " '--rank-sizes', '4', '--generate-tokens', '2', '--explain-runs', '1', '--precisions', 'fp32'])\n"
        "assert r.exit_code == 0, r.output\n"
        "bad = [m for m in ('torch', 'transformers') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]


def test_bench_quick_run_with_the_transformers_baseline(tiny_export, tiny_model_dir, tmp_path):
    report_path, plot_path = tmp_path / "bench.json", tmp_path / "bench.png"
    r = CliRunner().invoke(app, [
        "bench", "--export", str(tiny_export), "--backends", "cpu,cuda", "--baseline", "transformers", "--model", str(tiny_model_dir),
        "--runs", "3", "--warmup", "1", "--batch-sizes", "1,4", "--rank-sizes", "4,6", "--generate-tokens", "4",
        "--explain-runs", "1", "--json", str(report_path), "--plot", str(plot_path),
    ])
    assert r.exit_code == 0, r.output
    report = json.loads(report_path.read_text())
    assert plot_path.stat().st_size > 5_000
    assert {"cpu", "cores", "versions"} <= set(report["machine"])
    assert "not available here" in report["backends"]["cuda/fp32"]["skipped"]
    for key in ("cpu/fp32", "cpu/int8"):
        fig = report["backends"][key]
        assert set(fig["compare_ms"]) >= {"p50", "p95", "p99"} and fig["compare_ms"]["n"] == 3
        assert fig["compare_ms"]["p50"] <= fig["compare_ms"]["p95"] <= fig["compare_ms"]["p99"]
        assert set(fig["throughput"]) == {"1", "4"} and set(fig["rank"]) == {"4", "6"}
        assert set(fig["stages_ms"]) == {"preprocess", "vision", "judge", "explain"} and fig["peak_rss_mb"] > 0
        assert fig["rank"]["6"]["comparisons"] == 15 and fig["rank"]["6"]["images_encoded"] == 6
        ratio = report["ratios"][key]
        assert {"compare_vs_generate", "compare_vs_scorer", "rank6_vs_scorer_all_ordered_pairs", "pairs_per_s_batch4_vs_scorer"} <= set(ratio)
        assert ratio["compare_vs_scorer"] == report["baseline"]["scorer_compare_ms"]["p50"] / fig["compare_ms"]["p50"]
    base = report["baseline"]
    assert base["generate_new_tokens"] == 4 and base["scorer_rank_all_ordered_pairs"]["6"]["ordered_pairs"] == 30
    assert "compare_vs_fp32" in report["ratios"]["cpu/int8"]
