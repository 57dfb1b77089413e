"""The quickstart report's pieces: ratio rows with units, the protocol table, no raw Python reprs."""

from __future__ import annotations

from PIL import Image

from creative4u_small.quickstart.report import protocol_table, ratio_label, ratio_rows, write_report

RATIOS = {"cpu/int8": {"compare_vs_generate": 82.81991, "pairs_per_s_batch8_vs_scorer": 3.5,
                       "rank16_vs_scorer_all_ordered_pairs": 5.8, "compare_vs_fp32": 1.9},
          "cpu/fp32": {"compare_vs_scorer": 1.1}}
EXPLAINED = {"parsed": True, "rows": [("Q1", "same image", "no"), ("Q9", "background", "A<B"), ("Q10", "more likely click", "A")],
             "q10_matches_verdict": True, "reasoning": "Creative B has a plain background.", "text": "<think>…</think>"}


def test_ratio_rows_are_one_figure_each_with_units():
    rows = ratio_rows(RATIOS)
    assert len(rows) == 5 and ("cpu/fp32", "compare (p50 latency) vs transformers scorer", "1.10× faster") in rows
    assert ratio_rows({"cpu/int8": {"compare_vs_fp32": 0.84}})[0][2] == "0.84× (slower)"
    assert ("cpu/int8", "compare (p50 latency) vs transformers generate", "82.82× faster") in rows
    assert ratio_label("pairs_per_s_batch8_vs_scorer") == "pairs/s at batch 8 vs transformers scorer"
    assert ratio_label("rank16_vs_scorer_all_ordered_pairs") == "rank time, pool of 16, vs scorer on every ordered pair"
    assert all("{" not in cell and "'" not in cell for row in rows for cell in row)


def test_protocol_table_or_a_flagged_raw_text():
    table = protocol_table(EXPLAINED)
    assert "<td>background</td><td>A&lt;B</td>" in table and "plain background" in table and "other creative" not in table
    assert "Q10 names the other creative" in protocol_table({**EXPLAINED, "q10_matches_verdict": False})
    raw = protocol_table({"parsed": False, "error": "unparsed: no <think> after </answer>", "text": "QQQQ"})
    assert "Unparsed rationale" in raw and "QQQQ" in raw and "&lt;think&gt;" in raw
    assert "No explanation" in protocol_table(None)


def test_report_page_has_no_python_reprs(tmp_path):
    metrics = {"teacher": {"accuracy": 0.95}, "student": {"accuracy": 0.93, "n": 300},
               "student_rationale": {"outputs": 300, "strict_parse_rate": 0.97}, "teacher_rationale": {}}
    parity = {"fp32": {"status": "passed", "agreement": 1.0, "decisive": 50, "max_abs_dp_a": 2.7e-7}}
    page = write_report(tmp_path / "r.html", metrics=metrics, parity=parity, ranked={"query": "q", "order": ["a", "b"]},
                        sheet=Image.new("RGB", (8, 8)), explanation=EXPLAINED, latency_png=None, timings={"eval": 1.0},
                        bench_ratios=RATIOS).read_text()
    assert "img{max-width:100%" in page and "97.0%" in page and "82.82× faster" in page
    for repr_mark in ("{'", "': ", "None", "[(", "True"):
        assert repr_mark not in page, repr_mark
