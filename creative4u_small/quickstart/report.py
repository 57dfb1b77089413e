"""The quickstart's closing report: one self-contained HTML page (images inlined), no server."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont


def contact_sheet(images: list[Path], scores: list[float], thumb: int = 128, columns: int = 4) -> Image.Image:
    """Thumbnails in rank order, each captioned with its rank and Bradley–Terry score."""
    if len(images) != len(scores):
        raise ValueError("one score per image is needed")
    rows = (len(images) + columns - 1) // columns
    cap = 22
    sheet = Image.new("RGB", (columns * (thumb + 8) + 8, rows * (thumb + cap + 8) + 8), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=13)
    for i, (path, score) in enumerate(zip(images, scores)):
        x, y = 8 + (i % columns) * (thumb + 8), 8 + (i // columns) * (thumb + cap + 8)
        with Image.open(path) as im:
            sheet.paste(im.convert("RGB").resize((thumb, thumb)), (x, y))
        if i == 0:
            draw.rectangle([x - 3, y - 3, x + thumb + 2, y + thumb + 2], outline=(20, 160, 60), width=3)
        draw.text((x, y + thumb + 4), f"#{i + 1}  BT {score:+.2f}", fill="black", font=font)
    return sheet


def png_data_uri(image) -> str:
    """A PIL image or a PNG path as a data: URI."""
    if isinstance(image, (str, Path)):
        data = Path(image).read_bytes()
    else:
        buf = io.BytesIO()
        image.save(buf, format="PNG")
        data = buf.getvalue()
    return "data:image/png;base64," + base64.b64encode(data).decode()


def _table(rows: list[tuple[str, ...]], head: tuple[str, ...] | None = None) -> str:
    """Rows of strings as an HTML table; the first cell of each row is its header."""
    top = "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>" if head else ""
    body = "".join("<tr><th>" + html.escape(r[0]) + "</th>" + "".join(f"<td>{html.escape(c)}</td>" for c in r[1:]) + "</tr>"
                   for r in rows)
    return f"<table>{top}{body}</table>"


def _pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


# What each runtime speed-up compares (keys of ``bench.runtime_bench.ratios``); every value is a ratio "×".
RATIO_LABELS = {
    "compare_vs_generate": "compare (p50 latency) vs transformers generate",
    "compare_explain_vs_generate": "compare + explanation (p50 latency) vs transformers generate",
    "compare_vs_scorer": "compare (p50 latency) vs transformers scorer",
    "compare_vs_fp32": "compare (p50 latency) vs fp32 graphs",
}


def ratio_label(key: str) -> str:
    """A readable name for a ``bench.runtime_bench.ratios`` key, batch and pool sizes included."""
    if key in RATIO_LABELS:
        return RATIO_LABELS[key]
    if key.startswith("pairs_per_s_batch") and key.endswith("_vs_scorer"):
        return f"pairs/s at batch {key[len('pairs_per_s_batch'):-len('_vs_scorer')]} vs transformers scorer"
    if key.startswith("rank") and key.endswith("_vs_scorer_all_ordered_pairs"):
        return f"rank time, pool of {key[4:-len('_vs_scorer_all_ordered_pairs')]}, vs scorer on every ordered pair"
    return key.replace("_", " ")


def ratio_rows(ratios: dict) -> list[tuple[str, str, str]]:
    """One row per figure: (runtime, what is compared, speed-up with its unit)."""
    rows = []
    for runtime, figs in ratios.items():
        if not isinstance(figs, dict):
            continue
        for key, value in figs.items():
            shown = "n/a" if not isinstance(value, (int, float)) else f"{value:,.2f}× " + ("faster" if value >= 1 else "(slower)")
            rows.append((runtime, ratio_label(key), shown))
    return rows


def protocol_table(explanation: dict | None) -> str:
    """The winner's explanation: Q1–Q10 as a table and its reasoning, or the raw text flagged unparsed."""
    if not explanation:
        return "<p>No explanation was decoded.</p>"
    if not explanation.get("parsed"):
        return (f"<p><b>Unparsed rationale</b> ({html.escape(str(explanation.get('error') or 'unparsed'))}); "
                f"raw text:</p><pre>{html.escape(explanation.get('text') or '(empty)')}</pre>")
    rows = [(key, label, answer) for key, label, answer in explanation["rows"]]
    note = "" if explanation.get("q10_matches_verdict") else "<p><b>Q10 names the other creative than the verdict.</b></p>"
    reasoning = f"<p>{html.escape(explanation['reasoning'])}</p>" if explanation.get("reasoning") else ""
    return _table(rows, ("question", "aspect", "answer (A = #1, B = #2)")) + note + reasoning


def write_report(out: Path, *, metrics: dict, parity: dict, ranked: dict, sheet: Image.Image,
                 explanation: dict | None, latency_png: Path | None, timings: dict, bench_ratios: dict | None) -> Path:
    """Write ``out`` (HTML) from the quickstart's measured figures."""
    t, s = metrics.get("teacher", {}), metrics.get("student", {})
    sr, tr = metrics.get("student_rationale") or {}, metrics.get("teacher_rationale") or {}
    quality = _table([
        ("teacher accuracy (held-out)", _pct(t.get("accuracy"))),
        ("student accuracy (held-out)", _pct(s.get("accuracy"))),
        ("teacher–student agreement", _pct(s.get("teacher_agreement"))),
        ("student order consistency", _pct(s.get("order_consistency"))),
        ("student calibration error (ECE)", "n/a" if s.get("ece") is None else f"{s['ece']:.3f}"),
        ("held-out pairs", str(s.get("n", "n/a"))),
    ])
    explain_rows = [
        ("outputs scored", str(sr.get("outputs", "n/a")), str(tr.get("outputs", "n/a"))),
        ("parse strictly (Q1–Q10 complete)", _pct(sr.get("strict_parse_rate")), _pct(tr.get("strict_parse_rate"))),
        ("Q10 equals the verdict (of parsed)", _pct(sr.get("q10_equals_verdict")), _pct(tr.get("q10_equals_verdict"))),
        ("Q3–Q9 agree with the teacher (mean)", _pct(sr.get("teacher_q3_q9")), "—"),
        ("Q3–Q9 agree with the truth (mean)", _pct(sr.get("truth_q3_q9")), _pct(tr.get("truth_q3_q9"))),
        ("free text consistent with the lines", _pct(sr.get("text_consistency")), _pct(tr.get("text_consistency"))),
    ]
    explain = _table(explain_rows, ("figure", "student (generated)", "teacher (kept labels)"))
    parity_rows = [(prec, str(fig.get("status", "?")), _pct(fig.get("agreement")), str(fig.get("decisive", "?")),
                    "n/a" if fig.get("max_abs_dp_a") is None else f"{fig['max_abs_dp_a']:.2e}")
                   for prec, fig in parity.items()]
    stage_rows = [(k, f"{v:.1f} s") for k, v in timings.items()]
    bench = _table(ratio_rows(bench_ratios or {}), ("runtime", "figure", "speed-up")) if bench_ratios else "<p>no benchmark ratios</p>"
    latency = f'<img src="{png_data_uri(latency_png)}" alt="latency chart">' if latency_png and Path(latency_png).is_file() else "<p>no latency chart</p>"
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>creative4u-small quickstart report</title>
<style>body{{font-family:sans-serif;max-width:960px;margin:2em auto;padding:0 1em}}table{{border-collapse:collapse;margin:0.5em 0}}
th,td{{border:1px solid #ccc;padding:4px 10px;text-align:left}}pre{{background:#f4f4f4;padding:8px;white-space:pre-wrap;overflow-wrap:anywhere}}
img{{max-width:100%;height:auto}}</style>
</head><body>
<h1>creative4u-small quickstart</h1>
<p>Synthetic data (marked synthetic), offline presets, CPU only. Every figure below was measured by this run.</p>
<h2>Selection quality</h2>{quality}
<h2>Explanations</h2>{explain}
<h2>Export parity</h2>{_table(parity_rows, ("precision", "status", "verdict agreement", "decisive pairs", "max |Δp_a|"))}
<h2>Ranked pool</h2>
<p>Query: <b>{html.escape(ranked.get("query", ""))}</b> — {len(ranked.get("order", []))} creatives,
{ranked.get("comparisons", "?")} comparisons.</p>
<img src="{png_data_uri(sheet)}" alt="ranked contact sheet">
<h3>Why #1 beats #2 (student explanation, torch-free runtime)</h3>
<p>{html.escape(ranked.get("verdict_line", ""))}</p>{protocol_table(explanation)}
<h2>Latency</h2>{latency}{bench}
<h2>Stage times</h2>{_table(stage_rows)}
</body></html>"""
    out = Path(out)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(out)
    return out
