"""The openvino backend on the tiny export: IR graphs, precisions, devices, auto choice, fallback, CLI and serve."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from openvino_support import needs_openvino

from creative4u_small.runtime import Selector
from creative4u_small.runtime.engines import BackendError, openvino_engine
from creative4u_small.runtime import manifest as mf

pytestmark = needs_openvino


def _items(pairs, n=4):
    return [(p.image_a, p.image_b, p.query, p.title) for p in pairs[:n]]


@pytest.fixture(scope="module")
def synth_pairs(synth_pairs_file):
    from creative4u_small.contract.pairs import load_pairs

    return load_pairs(synth_pairs_file)


@pytest.fixture(scope="module")
def vouched_export(tiny_export, tmp_path_factory):
    """A copy of the tiny export whose manifest says its OpenVINO INT8 parity passed (the tiny model is untrained,
    so its own parity is only 'unverified') and whose timing has OpenVINO INT8 fastest (on the tiny model it is
    not); the manifest is not among the hashed files."""
    out = tmp_path_factory.mktemp("vouched") / "export"
    shutil.copytree(tiny_export, out)
    manifest = json.loads((out / mf.MANIFEST_FILE).read_text())
    manifest["parity"]["openvino-int8"]["status"] = "passed"
    assert manifest["shift"]["variants"]["openvino-int8"]["status"] == "passed"
    manifest["timing"] = {"compare_ms": {"fp32": 4.0, "int8": 3.0, "openvino-fp32": 5.0, "openvino-int8": 2.0}, "machine": {}}
    (out / mf.MANIFEST_FILE).write_text(json.dumps(manifest))
    return out


def test_fp32_ir_gives_onnx_runtimes_answers(tiny_export, synth_pairs):
    ov = Selector.load(tiny_export, backend="openvino", precision="fp32", threads=1)
    ort = Selector.load(tiny_export, backend="cpu", precision="fp32", threads=1)
    got, want = ov.compare_many(_items(synth_pairs)), ort.compare_many(_items(synth_pairs))
    np.testing.assert_allclose([r.logits for r in got], [r.logits for r in want], atol=1e-4)
    info = ov.describe()
    assert info["backend"] == "openvino" and info["precision"] == "fp32"
    judge = info["graphs"][mf.JUDGE]
    assert judge["key"] == f"{mf.JUDGE}.{mf.OPENVINO_FP32}" and judge["file"].endswith(".xml")
    assert (judge["engine"], judge["device"], judge["inference_precision_hint"]) == ("openvino", "CPU", "f32")
    assert info["openvino"]["installed"] and info["openvino"]["telemetry"] == "off"


def test_int8_ir_runs_batched_and_stays_near_fp32(tiny_export, synth_pairs):
    sel = Selector.load(tiny_export, backend="openvino", precision="int8", threads=1, batch_size=4)
    assert sel.precision == "int8" and sel.graph_keys[mf.VISION] == f"{mf.VISION}.{mf.OPENVINO_INT8}"
    assert sel.pairs_per_judge_call == 4  # static INT8 scales: an answer does not depend on its batch mates
    batched = [r.p_a for r in sel.compare_many(_items(synth_pairs))]
    one_by_one = [sel.compare(*item).p_a for item in _items(synth_pairs)]
    np.testing.assert_allclose(batched, one_by_one, atol=1e-4)
    fp32 = Selector.load(tiny_export, backend="openvino", precision="fp32", threads=1)
    np.testing.assert_allclose(batched, [r.p_a for r in fp32.compare_many(_items(synth_pairs))], atol=0.05)
    assert sel.describe()["probe"]["verdict"]["status"] == "passed"


def test_explanations_decode_on_the_ir(tiny_export, synth_pairs):
    """The decoder loop on the fp32 IR decodes the tokens ONNX Runtime decodes; the compressed IR decodes too."""
    item = _items(synth_pairs, 1)[0]
    ov = Selector.load(tiny_export, backend="openvino", precision="fp32", threads=1, max_new_tokens=6)
    ort = Selector.load(tiny_export, backend="cpu", precision="fp32", threads=1, max_new_tokens=6)
    assert ov.compare(*item, explain=True).rationale == ort.compare(*item, explain=True).rationale
    int8 = Selector.load(tiny_export, backend="openvino", precision="int8", threads=1, max_new_tokens=6)
    assert int8.compare(*item, explain=True).rationale is not None
    assert int8.describe()["probe"]["decoder"]["status"] == "passed"
    assert int8.describe()["graphs"][mf.DECODER_STEP]["key"] == f"{mf.DECODER_STEP}.{mf.OPENVINO_INT8}"


def test_a_long_explanation_grows_the_stateful_cache_and_decodes_onnx_runtimes_tokens(tiny_export, synth_pairs):
    """The in-place stateful step writes each token into a buffer of fixed size that grows by a bucket when full:
    a rationale longer than a bucket crosses that growth and still decodes ONNX Runtime's tokens at fp32."""
    from creative4u_small.runtime.engines.openvino_decoder import BUCKET

    item = _items(synth_pairs, 1)[0]
    n = BUCKET + 8
    ov = Selector.load(tiny_export, backend="openvino", precision="fp32", threads=1, max_new_tokens=n)
    ort = Selector.load(tiny_export, backend="cpu", precision="fp32", threads=1, max_new_tokens=n)
    ids = ov.tokenizer.judge_ids(item[2], item[3])
    tokens = ov.rationale_tokens(ids, *ov.embed(item[:2]), "A", min_new_tokens=n)
    assert len(tokens) == n and tokens == ort.rationale_tokens(ids, *ort.embed(item[:2]), "A", min_new_tokens=n)
    assert ov.describe()["graphs"][mf.DECODER_STEP]["stateful"]


def test_bf16_runs_the_fp32_ir_under_the_bf16_hint_where_the_cpu_has_it(tiny_export, synth_pairs):
    caps = openvino_engine.core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    if "BF16" not in caps:
        with pytest.raises(BackendError, match="has no BF16"):
            Selector.load(tiny_export, backend="openvino", precision="bf16", threads=2)
        return
    sel = Selector.load(tiny_export, backend="openvino", precision="bf16", threads=2)
    info = sel.describe()
    assert sel.precision == "bf16" and info["graphs"][mf.JUDGE]["key"] == f"{mf.JUDGE}.{mf.OPENVINO_FP32}"
    assert info["graphs"][mf.JUDGE]["inference_precision_hint"] == "bf16"
    assert info["probe"]["verdict"]["precision"] == "bf16" and info["probe"]["verdict"]["status"] == "passed"
    assert 0 <= sel.compare(*_items(synth_pairs, 1)[0]).p_a <= 1


def test_bf16_is_refused_on_onnx_runtime_and_on_one_openvino_thread(tiny_export):
    with pytest.raises(BackendError, match="precision bf16 does not run on the cpu backend"):
        Selector.load(tiny_export, backend="cpu", precision="bf16")
    if "BF16" in openvino_engine.core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
        with pytest.raises(BackendError, match="SIGFPE"):  # instead of the process dying in compile_model
            Selector.load(tiny_export, backend="openvino", precision="bf16", threads=1)


def test_a_device_openvino_does_not_see_is_a_clear_error(tiny_export):
    devices = openvino_engine.core().available_devices
    if any(d.startswith("NPU") for d in devices):
        pytest.skip("this machine has an NPU")
    with pytest.raises(BackendError, match=r"device NPU is not available here \(OpenVINO sees: .*CPU"):
        Selector.load(tiny_export, backend="openvino", device="NPU")
    with pytest.raises(ValueError, match="device 'TPU'"):
        Selector.load(tiny_export, backend="openvino", device="TPU")


def _passed_over(sel) -> dict:
    return {(p["backend"], p.get("precision")): p["reason"] for p in sel.describe()["auto"]["passed_over"]}


def test_auto_takes_openvino_int8_only_when_its_parity_passed(tiny_export, vouched_export):
    plain = Selector.load(tiny_export, threads=1)  # the untrained tiny model's parity is only 'unverified'
    assert plain.precision == "fp32"
    assert "openvino-int8 parity is unverified" in _passed_over(plain)[("openvino", "int8")]
    sel = Selector.load(vouched_export, threads=1)
    info = sel.describe()
    if openvino_engine.platform.machine().lower() not in ("x86_64", "amd64"):
        assert "x86" in _passed_over(sel)[("openvino", "int8")]
        return
    assert (sel.backend, sel.precision) == ("openvino", "int8")
    assert info["backend_reason"].startswith("auto: openvino int8, the fastest of") and "2 ms per compare" in info["backend_reason"]
    assert "openvino-int8 parity passed" in info["precision_reason"] and "shift-set check passed" in info["precision_reason"]
    assert "openvino" in info["available_backends"]


def test_auto_passes_over_openvino_int8_that_failed_the_shift_check_or_is_slower(vouched_export, tmp_path):
    out = tmp_path / "export"
    shutil.copytree(vouched_export, out)
    manifest = json.loads((out / mf.MANIFEST_FILE).read_text())
    manifest["shift"]["variants"]["openvino-int8"] |= {"status": "failed", "reason": "p99 |delta p_a| 0.1 is above 0.01"}
    (out / mf.MANIFEST_FILE).write_text(json.dumps(manifest))
    sel = Selector.load(out, threads=1)
    assert (sel.backend, sel.precision) == ("cpu", "fp32")  # ORT INT8's parity is only 'unverified' on the tiny model
    assert "openvino-int8 failed the shift-set check (p99 |delta p_a| 0.1 is above 0.01)" in _passed_over(sel)[("openvino", "int8")]
    manifest["shift"]["variants"]["openvino-int8"]["status"] = "passed"
    manifest["timing"]["compare_ms"]["openvino-int8"] = 4.5  # slower than ONNX Runtime's fp32 (4.0)
    (out / mf.MANIFEST_FILE).write_text(json.dumps(manifest))
    sel = Selector.load(out, threads=1)
    assert (sel.backend, sel.precision) == ("cpu", "fp32") and "4 ms per compare" in sel.describe()["backend_reason"]
    weighed = sel.describe()["auto"]["candidates"]
    assert [(c["backend"], c["precision"]) for c in weighed] == [("cpu", "fp32"), ("openvino", "int8"), ("openvino", "fp32")]


_HIDE_OPENVINO = "import sys\nsys.modules['openvino'] = None  # as if openvino were not installed\n"


def test_without_openvino_auto_falls_back_to_onnx_runtime_with_one_line(vouched_export):
    code = _HIDE_OPENVINO + (
        "import json\nfrom creative4u_small.runtime import Selector\n"
        f"sel = Selector.load({str(vouched_export)!r}, threads=1)\n"
        "print(json.dumps([sel.backend, sel.precision, sel.describe()['backend_reason'], sel.describe()['auto']['passed_over']]))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    backend, precision, reason, passed_over = json.loads(r.stdout.strip().splitlines()[-1])
    assert backend == "cpu" and precision in ("fp32", "int8")
    assert any(p["backend"] == "openvino" and "openvino cannot be imported" in p["reason"] for p in passed_over)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "holds openvino graphs but openvino cannot be imported" in lines[0] and "pip install" in lines[0], r.stderr


def test_explicit_openvino_backend_without_openvino_names_the_install(vouched_export):
    code = _HIDE_OPENVINO + f"from creative4u_small.runtime import Selector\nSelector.load({str(vouched_export)!r}, backend='openvino')\n"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode != 0 and "backend 'openvino'" in r.stderr and "is not available here" in r.stderr


def test_runtime_import_leaves_openvino_unloaded():
    code = ("import sys\nimport creative4u_small.runtime\n"
            "assert 'openvino' not in sys.modules and 'nncf' not in sys.modules, sorted(m for m in sys.modules if 'openvino' in m)\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cli_select_rank_and_explain_on_the_ir(tiny_export, synth_pairs):
    from typer.testing import CliRunner

    from creative4u_small.cli import app

    p = synth_pairs[0]
    args = ["--export", str(tiny_export), "--backend", "openvino", "--device", "CPU", "--threads", "1"]
    r = CliRunner().invoke(app, ["select", str(p.image_a), str(p.image_b), *args, "--precision", "int8", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout[r.stdout.index("{"):])
    assert (out["backend"], out["precision"]) == ("openvino", "int8")
    r = CliRunner().invoke(app, ["select", str(p.image_a), str(p.image_b), *args, "--explain", "--max-new-tokens", "4"])
    assert r.exit_code == 0 and "winner:" in r.output, r.output
    images = [str(x) for q in synth_pairs[:3] for x in (q.image_a, q.image_b)]
    r = CliRunner().invoke(app, ["rank", *images, *args, "--top-k", "2"])
    assert r.exit_code == 0 and r.output.count(". ") >= 2 and "backend openvino" in r.output, r.output

