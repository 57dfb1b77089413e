"""Bad input gets one clear error, and the Selector keeps answering the next good request."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
import zlib

import pytest

from creative4u_small.contract.images import ImageError
from creative4u_small.runtime import Selector
from creative4u_small.runtime import manifest as mf


def _png_header(width, height):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)) + chunk(b"IEND", b"")


def test_bad_images_are_refused_and_the_selector_keeps_working(tiny_selector, synth_pairs, tmp_path):
    p = synth_pairs[4]
    good = tiny_selector.compare(p.image_a, p.image_b, p.query, p.title).p_a
    jpeg = tmp_path / "creative.jpg"
    from PIL import Image

    Image.open(p.image_a).save(jpeg, quality=90)
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(jpeg.read_bytes()[:200])
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_header(20_000, 20_000))
    cases = [
        (truncated, "truncated.jpg: corrupt or truncated"),
        (text, "notes.png: not a readable image"),
        (bomb, r"bomb.png: 400,000,000 pixels, above the cap of 40,000,000"),
        (tmp_path / "gone.png", "gone.png: image file not found"),
    ]
    for bad, message in cases:
        with pytest.raises(ImageError, match=message):
            tiny_selector.compare(bad, p.image_b, p.query, p.title)
        with pytest.raises(ImageError, match=message):
            tiny_selector.rank([p.image_a, bad, p.image_b], p.query)
        assert tiny_selector.compare(p.image_a, p.image_b, p.query, p.title).p_a == good


def test_query_with_an_image_token_is_refused(tiny_selector, synth_pairs):
    p = synth_pairs[0]
    with pytest.raises(ValueError, match="query .* special token"):
        tiny_selector.compare(p.image_a, p.image_b, "shoe <image>", p.title)


@pytest.fixture
def export_copy(tiny_export, tmp_path):
    dst = tmp_path / "export"
    shutil.copytree(tiny_export, dst)
    return dst


def test_missing_export_file(export_copy):
    (export_copy / "judge.onnx").unlink()
    with pytest.raises(mf.ManifestError, match="judge.onnx: listed in the manifest but missing"):
        Selector.load(export_copy, backend="cpu")
    with pytest.raises(mf.ManifestError, match="not found; is .* an export folder"):
        Selector.load(export_copy / "nowhere", backend="cpu")


def test_manifest_from_a_newer_format(export_copy):
    path = export_copy / mf.MANIFEST_FILE
    data = json.loads(path.read_text())
    data["format_version"] = mf.FORMAT_VERSION + 1
    path.write_text(json.dumps(data))
    with pytest.raises(mf.ManifestError, match=rf"format_version {mf.FORMAT_VERSION + 1} is newer than this runtime reads \({mf.FORMAT_VERSION}\); upgrade"):
        Selector.load(export_copy, backend="cpu")


def test_manifest_of_the_previous_format_still_loads_and_older_ones_are_refused(export_copy, tiny_selector, synth_pairs):
    path = export_copy / mf.MANIFEST_FILE
    data = json.loads(path.read_text())
    data["format_version"] = 2  # before graph optimization records and FP16 graphs
    for entry in data["graphs"].values():
        del entry["optimization"]
    path.write_text(json.dumps(data))
    p = synth_pairs[0]
    sel = Selector.load(export_copy, backend="cpu", threads=1)
    assert sel.manifest.graphs["vision"].optimization == {}
    assert sel.compare(p.image_a, p.image_b, p.query, p.title).p_a == tiny_selector.compare(p.image_a, p.image_b, p.query, p.title).p_a
    data["format_version"] = 1
    path.write_text(json.dumps(data))
    with pytest.raises(mf.ManifestError, match="format_version 1 is older than this runtime reads \\(2\\); re-export"):
        Selector.load(export_copy, backend="cpu")


def test_tampered_graph(export_copy, tiny_selector, synth_pairs):
    """A graph swapped after export is refused at load; a Selector that loaded the folder before the swap keeps the
    graphs it opened and answers as the untouched export does."""
    p = synth_pairs[5]
    loaded = Selector.load(export_copy, backend="cpu", threads=1)  # tiny_selector's backend, precision and threads
    used = loaded.manifest.graphs[loaded.graph_keys["vision"]].file
    (export_copy / used).write_bytes((export_copy / ("vision.onnx" if used != "vision.onnx" else "vision.int8.onnx")).read_bytes())
    with pytest.raises(mf.ManifestError, match=f"{used}: sha256 does not match"):
        Selector.load(export_copy, backend="cpu")
    want = tiny_selector.compare(p.image_a, p.image_b, p.query, p.title).p_a
    swapped = Selector.load(export_copy, backend="cpu", threads=1, verify_hashes=False, probe=False)
    assert swapped.compare(p.image_a, p.image_b, p.query, p.title).p_a != want  # the swap changes answers once read
    loaded.clear_cache()
    assert loaded.compare(p.image_a, p.image_b, p.query, p.title).p_a == want


def test_unavailable_backend_and_missing_int8(tiny_export, export_copy):
    with pytest.raises(RuntimeError, match="backend 'cuda' .*available: .*cpu"):
        Selector.load(tiny_export, backend="cuda")
    data = json.loads((export_copy / mf.MANIFEST_FILE).read_text())
    data["graphs"] = {k: v for k, v in data["graphs"].items() if not k.endswith(".int8")}
    (export_copy / mf.MANIFEST_FILE).write_text(json.dumps(data))
    with pytest.raises(mf.ManifestError, match="no INT8 graphs"):
        Selector.load(export_copy, backend="cpu", precision="int8")


def test_runtime_never_imports_torch_or_transformers(tiny_export, synth_pairs):
    """A fresh interpreter imports the runtime, compares, ranks and explains: no torch, no transformers."""
    p = synth_pairs[0]
    code = (
        "import sys\n"
        "from creative4u_small.runtime import Selector\n"
        f"sel = Selector.load({str(tiny_export)!r}, backend='auto')\n"
        f"r = sel.compare({str(p.image_a)!r}, {str(p.image_b)!r}, 'red shoe', 'Shoe', explain=True)\n"
        f"sel.rank([{str(p.image_a)!r}, {str(p.image_b)!r}], 'red shoe')\n"
        "assert r.winner in 'AB' and r.rationale is not None\n"
        "bad = [m for m in ('torch', 'transformers') if m in sys.modules]\n"
        "assert not bad, f'runtime imported {bad}'\n"
        "print('ok', sel.backend)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "ok cpu"
