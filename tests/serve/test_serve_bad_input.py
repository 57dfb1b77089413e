"""Wrong tokens get 401; bad input gets a 4xx with a one-line reason; the next good request still succeeds."""

from __future__ import annotations

import base64
import io
import re
import struct
import zlib

import httpx
import pytest
from conftest import MAX_BODY_MB, MAX_REQUEST_PIXELS, TOKEN
from PIL import Image

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _png_header(width: int, height: int) -> bytes:
    """A 1-bit PNG that claims width x height (no pixel data: refused on its size before decoding)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)) + chunk(b"IEND", b"")


def _jpeg(path) -> bytes:
    buf = io.BytesIO()
    Image.open(path).convert("RGB").save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def _error(r: httpx.Response, status: int | tuple) -> str:
    assert r.status_code in ((status,) if isinstance(status, int) else status), r.text
    body = r.json()
    assert body["error"] and "\n" not in body["error"] and body["request_id"] == r.headers["x-request-id"]
    return body["error"]


@pytest.fixture
def good(server, synth_pairs, tiny_selector):
    """Checks that a good compare still answers right."""
    p = synth_pairs[2]
    want = tiny_selector.compare(p.image_a, p.image_b, p.query, p.title).p_a

    def check():
        r = httpx.post(server.url + "/v1/compare", headers=AUTH, timeout=30,
                       files={"image_a": p.image_a.read_bytes(), "image_b": p.image_b.read_bytes()}, data={"query": p.query, "title": p.title})
        assert r.status_code == 200, r.text
        assert abs(r.json()["p_a"] - want) <= 1e-6

    return check


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}, {"Authorization": f"Basic {TOKEN}"}],
                         ids=["missing", "wrong", "no-scheme", "basic"])
def test_wrong_or_missing_token_gets_401(server, synth_pairs, headers, good):
    p = synth_pairs[0]
    files = {"image_a": p.image_a.read_bytes(), "image_b": p.image_b.read_bytes()}
    assert "bearer token" in _error(httpx.post(server.url + "/v1/compare", headers=headers, files=files, timeout=30), 401)
    r = httpx.post(server.url + "/v1/rank", headers=headers, files=[("images", p.image_a.read_bytes()), ("images", p.image_b.read_bytes())], timeout=30)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert httpx.get(server.url + "/v1/model", headers=headers, timeout=30).status_code == 401
    assert httpx.get(server.url + "/healthz", timeout=30).status_code == 200  # probes stay open for load balancers
    good()


def _cases(synth_pairs):
    p = synth_pairs[3]
    a, b = p.image_a.read_bytes(), p.image_b.read_bytes()
    jpeg = _jpeg(p.image_a)
    big = int(MAX_BODY_MB * 1024 * 1024) + 200_000
    return {
        "truncated-jpeg": (dict(files={"image_a": ("a.jpg", jpeg[:200], "image/jpeg"), "image_b": b}), 422, "image_a: corrupt or truncated"),
        "text-named-png": (dict(files={"image_a": a, "image_b": ("b.png", b"this is not an image", "image/png")}), 422, "image_b: not a readable image"),
        "20000x20000": (dict(files={"image_a": ("huge.png", _png_header(20_000, 20_000), "image/png"), "image_b": b}), 422, r"image_a: 400,000,000 pixels, above the cap of 40,000,000; downscale it or raise --max-pixels"),
        "7000x7000": (dict(files={"image_a": ("big.png", _png_header(7000, 7000), "image/png"), "image_b": b}), 422, r"image_a: 7000x7000 is 49,000,000 pixels, above the cap of 40,000,000; downscale it or raise --max-pixels"),
        "pixel-budget": (dict(files={"image_a": ("a.png", _png_header(4000, 4000), "image/png"), "image_b": ("b.png", _png_header(4000, 4000), "image/png")}),
                         413, rf"images: 32,000,000 pixels in all, above the server's budget of {MAX_REQUEST_PIXELS:,} per request; .* --max-request-pixels"),
        "eps": (dict(files={"image_a": ("a.eps", b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n", "application/postscript"), "image_b": b}), 422,
                "image_a: not a readable image file \\(expected PNG, JPEG, WebP, GIF, BMP or TIFF\\)"),
        "three-files": (dict(files=[("image_a", a), ("image_b", b), ("image_c", a)]), 400, "compare takes exactly two files"),
        "unknown-field": (dict(files={"image_a": a, "image_b": b}, data={"querry": "x"}), 400, "'querry': unknown field"),
        "long-text-echo": (dict(files={"image_a": a, "image_b": b}, data={"query": "<image>" * 150}), 422, r"^query '(<image>){10}.{0,12}… contains a special token"),
        "strict-over-budget": (dict(files={"image_a": a, "image_b": b}, data={"query": "shoe " * 100, "strict": "true"}), 422, r"query: \d+ tokens, above this model's budget of 64"),
        "json-deep": (dict(content=b"[" * 100_000 + b"]" * 100_000, headers={"content-type": "application/json"}), 400, "body: expected `object`, got `array`"),
        "json-deep-field": (dict(content=b'{"query": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", headers={"content-type": "application/json"}), 400,
                            "query: expected `str`, got `array`"),
        "json-empty-objects": (dict(content=b"{" + b",".join(b'"%d":{}' % i for i in range(90_000)) + b"}", headers={"content-type": "application/json"}), 400,
                               "^'0': unknown field"),
        "json-long-number": (dict(content=b'{"image_a": "AA==", "image_b": "AA==", "explain": ' + b"9" * 5000 + b"}", headers={"content-type": "application/json"}), 400, "explain: .*out of range"),
        "json-infinite": (dict(content=b'{"image_a": "AA==", "image_b": "AA==", "explain": 1e400}', headers={"content-type": "application/json"}), 400, "explain: number out of range"),
        "json-nan": (dict(content=b'{"image_a": "AA==", "image_b": "AA==", "explain": NaN}', headers={"content-type": "application/json"}), 400, "body is not valid JSON"),
        "json-bool-as-number": (dict(json={"image_a": "AA==", "image_b": "AA==", "explain": 1}), 400, "explain: expected `bool`, got `int`"),
        "empty-body": (dict(headers={"content-type": "multipart/form-data; boundary=x"}), 400, "empty request body"),
        "empty-file": (dict(files={"image_a": ("a.png", b"", "image/png"), "image_b": b}), 422, "image_a: empty file"),
        "wrong-content-type": (dict(content=b"image_a=1", headers={"content-type": "text/plain"}), 415, "content type 'text/plain' is not"),
        "oversized-body": (dict(files={"image_a": a, "image_b": ("b.png", b"\0" * big, "image/png")}), 413, "above the server's limit"),
        "oversized-chunked": (dict(content=iter([b"x" * 65536] * (big // 65536 + 1)), headers={"content-type": "multipart/form-data; boundary=x"}), 413, "above the server's limit"),
        "missing-field": (dict(files={"image_a": a}), 400, "image_b: missing file field"),
        "image-as-text": (dict(files={"image_a": a}, data={"image_b": "/etc/passwd"}), 400, "image_b: sent as a text field"),
        "bad-json": (dict(content=b"{not json", headers={"content-type": "application/json"}), 400, "not valid JSON"),
        "bad-base64": (dict(json={"image_a": "!!", "image_b": "!!"}), 400, "image_a: not valid base64"),
        "url-not-fetched": (dict(json={"image_a": "http://example.com/a.png", "image_b": "x"}), 400, "image_a: not valid base64"),
        "bad-explain": (dict(files={"image_a": a, "image_b": b}, data={"explain": "maybe"}), 400, "explain: 'maybe' is not a boolean; send true or false"),
        "image-token-in-query": (dict(files={"image_a": a, "image_b": b}, data={"query": "shoe <image>"}), 422, "special token"),
    }


CASES = ["truncated-jpeg", "text-named-png", "20000x20000", "7000x7000", "pixel-budget", "eps", "empty-body", "empty-file", "wrong-content-type",
         "oversized-body", "oversized-chunked", "missing-field", "image-as-text", "three-files", "unknown-field", "bad-json", "bad-base64",
         "url-not-fetched", "bad-explain", "image-token-in-query", "long-text-echo", "strict-over-budget", "json-deep", "json-long-number",
         "json-infinite", "json-nan", "json-bool-as-number", "json-deep-field", "json-empty-objects"]


@pytest.mark.parametrize("case", CASES)
def test_bad_compare_input_gets_a_4xx_and_the_next_request_succeeds(server, synth_pairs, good, case):
    kwargs, status, reason = _cases(synth_pairs)[case]
    headers = {**AUTH, **kwargs.pop("headers", {})}
    r = httpx.post(server.url + "/v1/compare", headers=headers, timeout=30, **kwargs)
    assert re.search(reason, _error(r, status))
    good()


def test_bad_rank_input(server, synth_pairs, good):
    p = synth_pairs[3]
    a = p.image_a.read_bytes()
    b64 = base64.b64encode(a).decode()
    url = server.url + "/v1/rank"
    r = httpx.post(url, headers=AUTH, files=[("images", a), ("images", ("bad.png", b"text", "image/png")), ("images", a)], timeout=30)
    assert "images[1] ('bad.png'): not a readable image" in _error(r, 422)
    assert "at least 2 images" in _error(httpx.post(url, headers=AUTH, files=[("images", a)], timeout=30), 400)
    for n in (17, 18):  # one and two above the limit: the same refusal, naming the flag
        assert "pool limit of 16; split the pool or raise --max-rank-images" in _error(httpx.post(url, headers=AUTH, files=[("images", a)] * n, timeout=30), 413)
        assert "images: " in _error(httpx.post(url, headers=AUTH, json={"images": [b64] * n}, timeout=30), 413)
    assert "top_k" in _error(httpx.post(url, headers=AUTH, files=[("images", a)] * 2, data={"top_k": "0"}, timeout=30), 400)
    strict = {"top_k": True, "names": 5}, {"top_k": 2.7}, {"names": "ab"}, {"names": None, "top_k": "2"}
    for extra in strict:  # no bool or fraction for an integer, no string for a list: refused, never coerced
        assert _error(httpx.post(url, headers=AUTH, json={"images": [b64] * 2, **extra}, timeout=30), 400)
    assert "2 names for 3 images" in _error(httpx.post(url, headers=AUTH, json={"images": [b64] * 3, "names": ["x", "y"]}, timeout=30), 422)
    assert "distinct" in _error(httpx.post(url, headers=AUTH, json={"images": [b64] * 2, "names": ["x", "x"]}, timeout=30), 422)
    good()


def test_hostile_json_on_one_keep_alive_connection_never_500s_and_the_connection_stays_usable(server, synth_pairs):
    p = synth_pairs[4]
    files = {"image_a": p.image_a.read_bytes(), "image_b": p.image_b.read_bytes()}
    hostile = [b"[" * 100_000 + b"]" * 100_000, b'{"images": [' + b"9" * 5000 + b"]}", b'{"images": ["AA==", "AA=="], "top_k": 1e400}',
               b'{"images": ["AA==", "AA=="], "names": 5}', b'{"images": ["AA==", "AA=="], "names": null, "top_k": -1}', b"\xff\xfe"]
    with httpx.Client(headers=AUTH, timeout=30) as c:
        for body in hostile * 3:
            r = c.post(server.url + "/v1/rank", content=body, headers={"content-type": "application/json"})
            assert 400 <= r.status_code < 500 and r.json()["request_id"] == r.headers["x-request-id"], r.text
            assert c.post(server.url + "/v1/compare", files=files).status_code == 200


def test_head_probes_and_no_redirect_built_from_host(server):
    for path in ("/healthz", "/readyz"):
        r = httpx.head(server.url + path, timeout=10)
        assert r.status_code == 200 and r.content == b""
    r = httpx.post(server.url + "/v1/compare/", headers={**AUTH, "Host": "evil.example"}, timeout=10)
    assert r.status_code == 404 and "location" not in r.headers


def test_unknown_path_and_method_are_json_errors(server):
    assert _error(httpx.get(server.url + "/v1/nothing", timeout=10), 404)
    assert _error(httpx.get(server.url + "/v1/compare", headers=AUTH, timeout=10), 405)


def test_errors_are_counted_by_kind(client):
    text = client.metrics()
    assert 'c4u_errors_total{kind="bad_image"}' in text and 'c4u_errors_total{kind="unauthorized"}' in text
