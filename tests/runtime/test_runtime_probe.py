"""The parity probe every export carries, replayed by ``Selector.load`` on the machine it finds."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from creative4u_small.runtime import manifest as mf
from creative4u_small.runtime.probe import ProbeFailed
from creative4u_small.runtime.selector import Selector


def _items(pairs):
    return [(p.image_a, p.image_b, p.query, p.title) for p in pairs]


def _tamper(export, tmp_path, key: str):
    """A copy of ``export`` whose ``key`` graph has its largest weight tensor overwritten, hashes rewritten."""
    import onnx
    from onnx import numpy_helper

    out = tmp_path / "tampered"
    shutil.copytree(export, out)
    path = out / mf.read_manifest(out).graphs[key].file
    model = onnx.load(str(path))
    weights = [i for i in model.graph.initializer if len(i.dims) == 2]
    target = max(weights, key=lambda i: int(np.prod(i.dims)))
    values = numpy_helper.to_array(target)
    rng = np.random.default_rng(0)
    if values.dtype == np.int8:
        noise = rng.integers(-64, 65, values.shape).astype(np.int8)
    else:
        noise = rng.standard_normal(values.shape).astype(values.dtype) * float(np.abs(values).max())
    target.CopyFrom(numpy_helper.from_array(noise, target.name))
    onnx.save(model, str(path))
    m = mf.read_manifest(out, verify_hashes=False)
    mf.write_manifest(out, m)  # the hashes now vouch for the tampered file: only the probe can notice
    return out


def test_every_export_carries_a_probe_with_floors_and_the_export_machine(tiny_export):
    m = mf.read_manifest(tiny_export)
    assert m.format_version == mf.FORMAT_VERSION and mf.PROBE_FILE in m.files
    assert m.probe["floors"]["int8"] == {"max_dp_a": 0.05, "max_rel_err": 0.15}
    assert m.probe["floors"]["fp16"] == {"max_dp_a": 0.01, "max_rel_err": 0.02}
    assert m.probe["floors"]["bf16"] == m.probe["floors"]["int8"]  # OpenVINO's bf16 hint is held to the INT8 floors
    assert set(m.probe["floors"]) == {"fp32", "fp16", "bf16", "int8"}
    here = m.probe["export_machine"]
    assert m.machine["int8_flags"] and "saturates" in m.machine["u8s8_kernel"]
    assert here["int8"]["verdict"]["status"] == here["int8"]["decoder"]["status"] == "passed"
    with np.load(tiny_export / mf.PROBE_FILE) as data:
        assert set(mf.PROBE_INPUTS) | set(mf.PROBE_REFERENCES) <= set(data.files)
        assert data["input_ids"].shape[0] == 2 * m.probe["pairs"] == m.probe["rows"]
        assert data["pixel_values"].dtype == np.float16


def test_load_runs_the_probe_and_reports_it(tiny_export):
    sel = Selector.load(tiny_export, backend="cpu", precision="int8", threads=1)
    info = sel.describe()
    verdict = info["probe"]["verdict"]
    assert info["precision"] == "int8" and verdict["status"] == "passed" and verdict["precision"] == "int8"
    assert 0 < verdict["figures"]["vision_rel_err"] <= verdict["floors"]["max_rel_err"]  # really the INT8 graph
    assert verdict["figures"]["pairs"] == sel.manifest.probe["pairs"] == 3  # one held-out pair, two shift pairs
    assert "decoder" not in info["probe"]  # probed when an explanation first needs the decoder
    sel.open_decoder()
    assert sel.describe()["probe"]["decoder"]["status"] == "passed"
    fp32 = Selector.load(tiny_export, backend="cpu", threads=1).describe()["probe"]["verdict"]
    assert fp32["precision"] == "fp32" and fp32["figures"]["vision_rel_err"] < 1e-5
    assert Selector.load(tiny_export, backend="cpu", threads=1, probe=False).describe()["probe"]["verdict"]["status"] == "skipped"


def test_tampered_int8_weight_falls_back_to_fp32_with_the_reason(tiny_export, synth_pairs, tmp_path):
    tampered = _tamper(tiny_export, tmp_path, "vision.int8")
    items = _items(synth_pairs[:4])
    blind = Selector.load(tampered, backend="cpu", precision="int8", threads=1, probe=False)
    fp32 = Selector.load(tiny_export, backend="cpu", threads=1)
    drift = max(abs(a.p_a - b.p_a) for a, b in zip(blind.compare_many(items), fp32.compare_many(items)))
    assert drift > 0 or blind.embed([items[0][0]])[0].std() > 0  # the hash check let the tampered graph through

    sel = Selector.load(tampered, backend="cpu", precision="int8", threads=1)
    info = sel.describe()
    assert info["precision"] == "fp32" and info["requested_precision"] == "int8"
    assert info["graphs"]["vision"]["key"] == "vision" and info["graphs"]["judge"]["key"] == "judge"
    assert info["probe"]["verdict_refused"]["status"] == "failed"
    assert "vision_rel_err" in info["probe"]["fallback"] and "int8 verdict graphs fail the parity probe" in info["probe"]["fallback"]
    assert info["probe"]["verdict"]["precision"] == "fp32" and info["probe"]["verdict"]["status"] == "passed"
    got = [r.p_a for r in sel.compare_many(items)]
    assert got == [r.p_a for r in fp32.compare_many(items)]

    with pytest.raises(ProbeFailed, match=r"int8 verdict graphs fail the parity probe on this machine .*vision_rel_err"):
        Selector.load(tampered, backend="cpu", precision="int8", threads=1, on_probe_failure="raise")


def test_tampered_fp32_graph_raises(tiny_export, tmp_path):
    tampered = _tamper(tiny_export, tmp_path, "vision")
    with pytest.raises(ProbeFailed, match=r"fp32 verdict graphs fail the parity probe on this machine .*vision_rel_err .*re-export"):
        Selector.load(tampered, backend="cpu", threads=1)


def test_tampered_int8_decoder_falls_back_when_first_opened(tiny_export, tmp_path):
    tampered = _tamper(tiny_export, tmp_path, "decoder_step.int8")
    sel = Selector.load(tampered, backend="cpu", precision="int8", threads=1)
    assert sel.precision == "int8"  # the verdict graphs are sound
    sel.open_decoder()
    report = sel.describe()["probe"]
    assert report["decoder_refused"]["status"] == "failed" and "step_rel_err" in report["decoder_refused"]["reason"]
    assert sel.graph_keys["decoder_step"] == "decoder_step" and sel.graph_keys["judge"] == "judge.int8"


def test_select_json_reports_the_probe(tiny_export, synth_pairs):
    from typer.testing import CliRunner

    from creative4u_small.cli import app

    p = synth_pairs[0]
    result = CliRunner().invoke(app, ["select", str(p.image_a), str(p.image_b), "--export", str(tiny_export), "--precision", "int8",
                                      "--backend", "cpu", "--threads", "1", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout[result.stdout.index("{"):])
    assert out["precision"] == "int8" and out["probe"]["verdict"]["status"] == "passed"
    assert out["probe"]["verdict"]["figures"]["max_dp_a"] <= 0.05
