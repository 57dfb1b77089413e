"""The shift gate: every INT8 variant against fp32 on creatives unlike the calibration set, at export; the probe
holds some of them; the CPU engines are timed for backend auto."""

from __future__ import annotations

import pytest
from openvino_support import HAVE_OPENVINO, needs_openvino

from creative4u_small.runtime import manifest as mf


def test_every_int8_variant_is_gated_and_reported(tiny_export):
    out, summary = tiny_export
    m = mf.read_manifest(out)
    variants = m.shift["variants"]
    assert set(variants) == {"int8"} | ({"openvino-int8"} if HAVE_OPENVINO else set())
    for key, figures in variants.items():
        assert figures["pairs"] == m.shift["pairs"] == 32
        assert 0 <= figures["median_abs_dp_a"] <= figures["p99_abs_dp_a"] <= figures["max_abs_dp_a"]
        assert figures["status"] == "passed" and figures["max_abs_dp_a"] > 0  # really another (quantized) graph
        assert summary["shift"][key]["status"] == "passed"
    assert m.shift["ceilings"] == {"agreement": 0.99, "p99_abs_dp_a": 0.01, "max_abs_dp_a": 0.05}
    report = (out / mf.PARITY_FILE).read_text()
    assert "## INT8 on the distribution-shift set (32 pairs)" in report and "| int8 |" in report
    assert m.probe["shift_pairs"] == 2 and m.probe["pairs"] == 3  # one held-out pair and two shift pairs


def test_each_cpu_path_is_timed_for_backend_auto(tiny_export):
    out, summary = tiny_export
    timing = mf.read_manifest(out).timing
    paths = {"fp32", "int8"} | ({"openvino-fp32", "openvino-int8"} if HAVE_OPENVINO else set())
    assert set(timing["compare_ms"]) == paths and all(ms > 0 for ms in timing["compare_ms"].values())
    assert timing["runs"] == 3 and timing["machine"]["model"] and summary["compare_ms"] == timing["compare_ms"]


@needs_openvino
def test_static_scales_drift_past_the_gate_where_dynamic_ones_hold(static_export, trained_export):
    """Calibrated on synthetic pairs, static activation ranges clip on the shift set; run-time scales do not."""
    static = mf.read_manifest(static_export).shift["variants"]["openvino-int8"]
    dynamic = mf.read_manifest(trained_export[0]).shift["variants"]["openvino-int8"]
    print(f"static {static}\ndynamic {dynamic}")
    assert static["status"] == "failed" and "above" in static["reason"], static
    assert dynamic["status"] == "passed", dynamic
    assert dynamic["p99_abs_dp_a"] < static["p99_abs_dp_a"] / 2
