"""numpy + Pillow preprocessing equals the Hugging Face Idefics3/SmolVLM processors; odd modes and bad files."""

import io

import numpy as np
import pytest
from PIL import Image

from creative4u_small.contract.images import ImageError, open_image
from creative4u_small.runtime.preprocess import longest_edge_size, preprocess, to_pixel_values

SIZES = [(1, 1), (7, 13), (32, 32), (100, 37), (640, 480), (333, 1001)]


@pytest.fixture(scope="module")
def processors():
    """(HF image processor, manifest Preprocessing) for the tiny preset and SmolVLM-256M's 512 px frame."""
    from creative4u_small.export.prompt_spec import build_preprocessing
    from creative4u_small.modeling.model_init import build_processor
    from creative4u_small.modeling.presets import get_preset

    out = {}
    for name in ("tiny", "smolvlm-256m-shape"):
        proc = build_processor(get_preset(name))
        out[name] = (proc.image_processor, build_preprocessing(proc))
    return out


def _hf(ip, im):
    return ip(images=[[im]], do_image_splitting=False, return_tensors="np")["pixel_values"][0, 0]


def _noise(w, h, seed=0):
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8))


@pytest.mark.parametrize("preset", ["tiny", "smolvlm-256m-shape"])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_matches_hf_processor_on_six_sizes(processors, preset, size):
    ip, spec = processors[preset]
    im = _noise(*size)
    ref, mine = _hf(ip, im), to_pixel_values(im, spec)
    assert mine.dtype == np.float32 and mine.shape == ref.shape == (3, spec.image_size, spec.image_size)
    assert np.abs(ref - mine).max() <= 1e-5


@pytest.mark.parametrize("fixture", ["hub_smolvlm", "hub_smolvlm2"])
def test_hub_students_as_loaded_match_the_runtime(fixture, request):
    """The shipped SmolVLM/SmolVLM2 processors, loaded in one-frame form, give the runtime's pixels."""
    from creative4u_small.export.prompt_spec import build_preprocessing
    from creative4u_small.modeling import families
    from creative4u_small.modeling.checkpoint import load_processor
    from creative4u_small.modeling.scorer import preprocess_images

    path = request.getfixturevalue(fixture)
    processor = load_processor(path, families.model_type_of(path))
    spec = build_preprocessing(processor)
    for size in SIZES:
        im = _noise(*size)
        ref = preprocess_images(processor, [im])[0][0].numpy()
        assert np.abs(ref - to_pixel_values(im, spec)).max() <= 1e-5


def test_parity_is_not_vacuous(processors):
    """One square resize instead of the processor's two differs: the parity test can fail."""
    ip, spec = processors["tiny"]
    im = _noise(100, 37)
    one_step = np.asarray(im.resize((spec.image_size,) * 2, resample=spec.resample), dtype=np.float32) / 255
    one_step = ((one_step - 0.5) / 0.5).transpose(2, 0, 1)
    assert np.abs(_hf(ip, im) - one_step).max() > 1e-3


def test_longest_edge_rounds_the_short_edge_up_to_even():
    assert longest_edge_size(37, 100, 32) == (12, 32)  # int(32 / (100/37)) = 11 -> 12
    assert longest_edge_size(1001, 333, 512) == (512, 170)
    assert longest_edge_size(5, 5, 32) == (32, 32)


def _odd_modes():
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)
    alpha = rng.integers(0, 256, (40, 60), dtype=np.uint8)
    yield "RGBA", Image.frombytes("RGBA", (60, 40), np.dstack([rgb, alpha]).tobytes())
    yield "LA", Image.frombytes("LA", (60, 40), np.dstack([rgb[..., 0], alpha]).tobytes())
    yield "P", Image.fromarray(rgb).quantize(16)
    yield "CMYK", Image.fromarray(rgb).convert("CMYK")
    yield "I;16", Image.frombytes("I;16", (60, 40), rng.integers(0, 65536, (40, 60), dtype="<u2").tobytes())


@pytest.mark.parametrize("mode,im", list(_odd_modes()), ids=lambda x: x if isinstance(x, str) else "")
def test_odd_modes_become_rgb_and_match_hf(processors, mode, im):
    assert im.mode == mode
    ip, spec = processors["tiny"]
    buf = io.BytesIO()
    im.save(buf, format="TIFF" if mode in ("CMYK", "I;16") else "PNG")
    rgb = open_image(buf.getvalue())
    assert rgb.mode == "RGB" and rgb.size == im.size
    mine = preprocess(buf.getvalue(), spec)
    assert np.abs(_hf(ip, rgb) - mine).max() <= 1e-5
    assert np.isfinite(mine).all() and mine.min() >= -1 - 1e-6 and mine.max() <= 1 + 1e-6


def test_transparent_pixels_are_composited_on_white(processors):
    _, spec = processors["tiny"]
    im = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    assert np.allclose(preprocess(im, spec), 1.0)


def test_exif_orientation_is_applied(processors, tmp_path):
    _, spec = processors["tiny"]
    im = Image.new("RGB", (40, 20), (255, 0, 0))
    im.paste((0, 0, 255), (0, 0, 20, 20))  # left half blue
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW on display
    path = tmp_path / "rot.jpg"
    im.save(path, exif=exif, quality=95)
    upright = open_image(path)
    assert upright.size == (20, 40)
    top = np.asarray(upright)[:5].mean((0, 1))
    assert top[2] > 200 and top[0] < 60  # the blue left half is on top after rotating
    assert preprocess(path, spec).shape == (3, spec.image_size, spec.image_size)


def _png_header(width, height):
    """A PNG whose header claims ``width`` x ``height`` pixels (no pixel data at all)."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)) + chunk(b"IEND", b"")


def test_bad_files_give_clear_errors(processors, tmp_path):
    _, spec = processors["tiny"]
    good = tmp_path / "good.jpg"
    _noise(64, 64).save(good, quality=90)
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    text = tmp_path / "notes.png"
    text.write_text("this is not an image\n")
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_header(20_000, 20_000))
    with pytest.raises(ImageError, match="truncated.jpg: corrupt or truncated"):
        preprocess(truncated, spec)
    with pytest.raises(ImageError, match="notes.png: not a readable image"):
        preprocess(text, spec)
    with pytest.raises(ImageError, match=r"bomb.png: 400,000,000 pixels, above the cap of 40,000,000; downscale it or raise max_pixels"):
        preprocess(bomb, spec)
    eps = tmp_path / "art.eps"
    eps.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n")
    with pytest.raises(ImageError, match=r"art.eps: not a readable image file \(expected PNG, JPEG, WebP, GIF, BMP or TIFF\)"):
        preprocess(eps, spec)
    with pytest.raises(ImageError, match="missing.png: image file not found"):
        preprocess(tmp_path / "missing.png", spec)
    assert preprocess(good, spec).shape == (3, 32, 32)


def test_pixel_cap_refuses_before_decoding(processors, monkeypatch):
    """The cap is checked on the header: Image.load is never reached for an oversized image."""
    _, spec = processors["tiny"]
    calls = []
    real_load = Image.Image.load
    monkeypatch.setattr(Image.Image, "load", lambda self: calls.append(self.size) or real_load(self))
    with pytest.raises(ImageError, match="above the cap"):
        preprocess(_png_header(5_000, 5_000), spec, max_pixels=1_000_000)
    assert not [c for c in calls if c == (5_000, 5_000)]


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF", "MPO"])
def test_the_six_formats_are_read(processors, fmt):
    import io

    _, spec = processors["tiny"]
    buf = io.BytesIO()
    _noise(40, 30).save(buf, format=fmt)
    assert preprocess(buf.getvalue(), spec).shape == (3, 32, 32)


@pytest.mark.parametrize("fmt", ["PPM", "TGA", "ICO", "PCX"])
def test_other_formats_are_not_decoded(processors, fmt):
    import io

    _, spec = processors["tiny"]
    buf = io.BytesIO()
    _noise(16, 16).save(buf, format=fmt)
    with pytest.raises(ImageError, match="not a readable image file"):
        preprocess(buf.getvalue(), spec)
