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


def _table(rows: list[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def _pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def write_report(out: Path, *, metrics: dict, parity: dict, ranked: dict, sheet: Image.Image,
                 rationale: str, latency_png: Path | None, timings: dict, bench: dict | None) -> Path:
    """Write ``out`` (HTML) from the quickstart's measured figures."""
    t, s = metrics.get("teacher", {}), metrics.get("student", {})
    quality = _table([
        ("teacher accuracy (held-out)", _pct(t.get("accuracy"))),
        ("student accuracy (held-out)", _pct(s.get("accuracy"))),
        ("teacher–student agreement", _pct(s.get("teacher_agreement"))),
        ("student order consistency", _pct(s.get("order_consistency"))),
        ("student calibration error (ECE)", "n/a" if s.get("ece") is None else f"{s['ece']:.3f}"),
        ("held-out pairs", str(s.get("n", "n/a"))),
    ])
    parity_rows = [(f"{prec}: {fig.get('status', '?')}",
                    f"agreement {_pct(fig.get('agreement'))} on {fig.get('decisive', '?')} decisive pairs, "
                    f"max |Δp_a| " + ("n/a" if fig.get("max_abs_dp_a") is None else f"{fig['max_abs_dp_a']:.2e}"))
                   for prec, fig in parity.items()]
    stage_rows = [(k, f"{v:.1f} s") for k, v in timings.items()]
    bench_rows = [(k, str(v)) for k, v in (bench or {}).items()]
    latency = f'<img src="{png_data_uri(latency_png)}" alt="latency chart">' if latency_png and Path(latency_png).is_file() else "<p>no latency chart</p>"
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>creative4u-small quickstart report</title>
<style>body{{font-family:sans-serif;max-width:960px;margin:2em auto}}table{{border-collapse:collapse}}
th,td{{border:1px solid #ccc;padding:4px 10px;text-align:left}}pre{{background:#f4f4f4;padding:8px;white-space:pre-wrap}}</style>
</head><body>
<h1>creative4u-small quickstart</h1>
<p>Synthetic data (marked synthetic), offline presets, CPU only. Every figure below was measured by this run.</p>
<h2>Selection quality</h2>{quality}
<h2>Export parity</h2>{_table(parity_rows)}
<h2>Ranked pool</h2>
<p>Query: <b>{html.escape(ranked.get("query", ""))}</b> — {len(ranked.get("order", []))} creatives,
{ranked.get("comparisons", "?")} comparisons.</p>
<img src="{png_data_uri(sheet)}" alt="ranked contact sheet">
<h3>Why #1 beats #2 (student rationale)</h3><pre>{html.escape(rationale or "(none)")}</pre>
<h2>Latency</h2>{latency}{_table(bench_rows)}
<h2>Stage times</h2>{_table(stage_rows)}
</body></html>"""
    out = Path(out)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(out)
    return out
