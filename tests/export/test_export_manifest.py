"""The export folder: manifest contents, file hashes, untrained = unverified, never 'passed'."""

from __future__ import annotations

import json
import shutil

import pytest

from creative4u_small.runtime import manifest as mf


def test_manifest_hashes_match_every_file(tiny_export):
    out, _ = tiny_export
    data = json.loads((out / mf.MANIFEST_FILE).read_text())
    on_disk = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and p.name != mf.MANIFEST_FILE}
    assert set(data["files"]) == on_disk
    for rel, digest in data["files"].items():
        assert mf.sha256_file(out / rel) == digest, rel
    for entry in data["graphs"].values():
        assert entry["file"] in data["files"]
    assert mf.TOKENIZER_FILE in data["files"] and mf.PARITY_FILE in data["files"]


def test_tampered_file_is_detected(tiny_export, tmp_path):
    out, _ = tiny_export
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    with open(copy / "judge.onnx", "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(mf.ManifestError, match="sha256"):
        mf.read_manifest(copy)


def test_manifest_records_versions_prompt_dims_and_source(tiny_export, tiny_model_dir):
    from transformers import AutoProcessor

    from creative4u_small.contract import protocol
    from creative4u_small.export.prompt_spec import build_prompt_spec, slot_budgets

    out, _ = tiny_export
    m = mf.read_manifest(out)
    assert m.format_version == mf.FORMAT_VERSION
    for lib in ("torch", "transformers", "onnx", "onnxruntime"):
        assert m.versions[lib]
    assert m.versions["opset"] >= 17
    assert m.source_model["model_type"] == "idefics3" and len(m.source_model["sha256"]) == 64
    assert m.source_model["files"]["model.safetensors"] == mf.sha256_file(tiny_model_dir / "model.safetensors")
    processor = AutoProcessor.from_pretrained(tiny_model_dir)
    want = build_prompt_spec(processor, eos_token_ids=m.prompt.eos_token_ids)
    want.max_slot_tokens = slot_budgets(tiny_model_dir, protocol.SLOT_TOKEN_BUDGET)
    assert m.prompt == want and m.prompt.max_slot_tokens == {"query": 64, "title": 64}
    assert m.dims.image_seq_len == processor.image_seq_len == 4 and m.dims.num_layers == 2
    assert m.preprocessing.image_size == 32
    assert {k: v.precision for k, v in m.graphs.items() if k.endswith(".int8")} == {
        "vision.int8": "int8", "judge.int8": "int8", "judge_extend.int8": "int8", "decoder_prefill.int8": "int8",
        "decoder_step.int8": "int8"}
    assert (out / mf.TOKENIZER_FILE).read_bytes() == (tiny_model_dir / mf.TOKENIZER_FILE).read_bytes()


def test_untrained_model_is_unverified_not_passed(tiny_export):
    out, summary = tiny_export
    m = mf.read_manifest(out)
    assert m.status == summary["status"] == "unverified"
    for prec in ("fp32", "int8"):
        assert m.parity[prec]["status"] == "unverified"
        assert m.parity[prec]["decisive"] < m.parity[prec]["min_decisive"]
    report = (out / mf.PARITY_FILE).read_text()
    assert report.startswith("# Parity report — UNVERIFIED") and "PASSED" not in report


def test_provenance_holds_resolved_config(tiny_export):
    from creative4u_small.contract.artifacts import PROVENANCE_FILE

    out, _ = tiny_export
    prov = json.loads((out / PROVENANCE_FILE).read_text())
    assert prov["stage"] == "export" and prov["config"]["int8"] is True and prov["config"]["calib_pairs"] == 8


def test_compare_counts_only_decisive_pairs():
    import numpy as np

    from creative4u_small.export.parity import Floors, compare

    # pair 0 decisive (A), pair 1 a coin flip that the export flips: not counted
    ref = np.array([[2.0, 0.0], [0.0, 2.0], [0.01, 0.0], [0.0, 0.01]])
    got = np.array([[2.0, 0.0], [0.0, 2.0], [0.0, 0.01], [0.01, 0.0]])
    f = compare(ref, got, Floors(1.0), margin=0.05, min_decisive=1)
    assert (f["decisive"], f["agreeing"], f["agreement"], f["status"]) == (1, 1, 1.0, "passed")
    f = compare(ref, got[[2, 3, 0, 1]], Floors(1.0), margin=0.05, min_decisive=1)
    assert f["status"] == "failed" and "below the floor" in f["reason"]
    f = compare(ref, ref, Floors(1.0), margin=0.05, min_decisive=2)
    assert f["status"] == "unverified" and "only 1 of 2" in f["reason"]


def test_a_numeric_breach_fails_even_an_unverified_precision():
    from creative4u_small.export.parity import mark_failed, overall_status

    parity = {"fp32": {"status": "unverified", "reason": "only 0 of 4 pairs are decisive"}, "int8": {"status": "passed"}}
    mark_failed(parity["fp32"], "decoder logits differ")
    assert parity["fp32"] == {"status": "failed", "reason": "decoder logits differ"}
    assert overall_status(parity) == "failed"
    assert overall_status({"a": {"status": "passed"}, "b": {"status": "unverified"}}) == "unverified"
    assert overall_status({}) == "unverified"


def test_int8_drift_of_016_fails_although_every_verdict_agrees():
    """The AVX2 case: 49 decisive pairs all agreeing, max |delta p_a| 0.16 — INT8's ceiling fails it."""
    import numpy as np

    from creative4u_small.export.export_config import ExportConfig
    from creative4u_small.export.parity import Floors, compare

    cfg = ExportConfig(model="m", out="o")
    ref = np.tile([[3.0, 0.0], [0.0, 3.0]], (49, 1))  # p_a 0.953 for every pair
    got = ref.copy()
    got[0] = [1.0, 0.0]
    got[1] = [0.0, 1.0]  # pair 0 drops to p_a 0.73: same verdict, |delta p_a| 0.22
    f = compare(ref, got, Floors(cfg.int8_agreement, cfg.int8_max_dp), margin=0.05, min_decisive=10)
    assert f["agreement"] == 1.0 and f["status"] == "failed" and "max |delta p_a| 2.22e-01 is above the ceiling 5e-02" in f["reason"]
    assert f["floor_max_dp_a"] == 0.05
    assert compare(ref, ref, Floors(cfg.int8_agreement, cfg.int8_max_dp), margin=0.05, min_decisive=10)["status"] == "passed"


def test_a_runtime_check_that_cannot_run_reports_the_reference_figures_not_a_self_comparison(tiny_export, tmp_path):
    """Before: the failure compared the reference with itself (agreement 100%, deltas 0). Now: the reference's
    real pair and decisive counts, no agreement and no deltas, failed with the runtime's error."""
    import shutil

    import numpy as np

    from creative4u_small.export.export_config import ExportConfig
    from creative4u_small.export.export_run import ExportRun
    from creative4u_small.export.parity import parity_markdown
    from creative4u_small.export.runtime_check import runtime_check

    out, _ = tiny_export
    folder = tmp_path / "broken"
    shutil.copytree(out, folder)
    manifest = mf.read_manifest(folder, verify_hashes=False)
    (folder / mf.TOKENIZER_FILE).unlink()
    ref = np.array([[3.0, 0.0], [0.0, 3.0], [0.1, 0.0], [0.0, 0.1]] * 3)  # 6 pairs, 3 decisive at margin 0.05
    run = ExportRun(ExportConfig(model="m", out="o"), None, None, [], manifest.prompt, manifest.preprocessing, manifest.dims,
                    tmp=folder, reference=ref)
    figures = runtime_check(run, manifest)
    assert figures["status"] == "failed" and "cannot run this export" in figures["reason"]
    assert (figures["pairs"], figures["rows"], figures["decisive"]) == (6, 12, 3)
    assert figures["agreement"] is None and figures["agreeing"] == 0
    assert figures["max_abs_dp_a"] is None and figures["max_abs_dlogit"] is None
    assert "| runtime-fp32 |" in parity_markdown({"runtime-fp32": figures}, "failed", "m")


def test_the_manifest_is_written_once_after_every_parity_check(tiny_model_dir, tmp_path, monkeypatch):
    from creative4u_small.export.export_config import ExportConfig
    from creative4u_small.export.exporter import run_export

    written, real = [], mf.write_manifest

    def spy(folder, manifest):
        written.append(sorted(manifest.parity))
        return real(folder, manifest)

    monkeypatch.setattr(mf, "write_manifest", spy)
    run_export(ExportConfig(model=tiny_model_dir, out=tmp_path / "e", decoder=False, calib_pairs=4, threads=1))
    assert written == [["fp32", "runtime-fp32"]]
    assert mf.read_manifest(tmp_path / "e").probe["file"] == mf.PROBE_FILE
