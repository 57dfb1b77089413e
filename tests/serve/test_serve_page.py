"""The page at / in a real Chromium (Debian's, driven by Playwright) against a real `c4u serve`, and its headers.

The browser test ranks 4 synthetic creatives on the page and checks the ranking it shows against /v1/rank,
opens an explanation and checks it against /v1/compare, and finds a refused upload shown with its request id
(which the server's log carries). ``C4U_PAGE_SCREENSHOTS=DIR`` saves a screenshot of each state into DIR
(docs/img holds the ones in the docs); ``C4U_PAGE_EXPORT=EXPORT`` runs it on another export (a trained student
whose explanations parse) instead of the session's tiny one.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import httpx
import numpy as np
import pytest
from conftest import TOKEN, TOKEN_ENV, ServerProcess
from page_browser import MIN_CONTRAST, RECORDER, UNLABELLED, chromium_path, why_no_browser
from PIL import Image

from creative4u_small.contract.protocol import QUESTIONS
from creative4u_small.serve.page import ASSETS, CSP

SHOTS = os.environ.get("C4U_PAGE_SCREENSHOTS")
MARKS = {"A>B": "A", "A<B": "B", "A=B": "=", "A": "A", "B": "B", "yes": "yes", "no": "no"}
WAIT_MS = 30_000
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NO_BROWSER = why_no_browser()
needs_browser = pytest.mark.skipif(NO_BROWSER is not None, reason=str(NO_BROWSER))  # before any server or export is built


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def creatives(tmp_path_factory):
    """4 synthetic creatives (two rendered pairs, 192 px) with the first pair's query and title."""
    from creative4u_small.contract.pairs import load_pairs
    from creative4u_small.data.synth import synthesize

    pairs = load_pairs(synthesize(2, tmp_path_factory.mktemp("page_creatives"), seed=11, image_size=192))
    return [pairs[0].image_a, pairs[0].image_b, pairs[1].image_a, pairs[1].image_b], pairs[0].query, pairs[0].title


@pytest.fixture(scope="module")
def page_server(request, tmp_path_factory):
    """The session's token-guarded server, or one on ``C4U_PAGE_EXPORT`` with the same token."""
    export = os.environ.get("C4U_PAGE_EXPORT")
    if not export:
        yield request.getfixturevalue("server")
        return
    srv = ServerProcess(Path(export), tmp_path_factory.mktemp("page_serve") / "serve.log", "--api-key-env", TOKEN_ENV, env={TOKEN_ENV: TOKEN})
    srv.wait_ready()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path())
        yield b
        b.close()


@pytest.fixture
def page(browser):
    """A fresh tab (its own sessionStorage) recording CSP violations, progress texts, script errors and console errors."""
    context = browser.new_context(viewport={"width": 1100, "height": 900}, accept_downloads=True)
    context.add_init_script(RECORDER)
    tab = context.new_page()
    tab.set_default_timeout(WAIT_MS)
    tab.problems = []
    tab.on("pageerror", lambda e: tab.problems.append(f"script error: {e}"))
    tab.on("console", lambda m: m.type == "error" and "Failed to load resource" not in m.text and tab.problems.append(m.text))
    yield tab
    context.close()


def shot(tab, name: str, part: str | None = None) -> None:
    """With C4U_PAGE_SCREENSHOTS, the whole page (or the element ``part``) as DIR/page-NAME.png."""
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        path = str(Path(SHOTS) / f"page-{name}.png")
        tab.locator(part).screenshot(path=path) if part else tab.screenshot(path=path, full_page=True)


def slow_uploads(tab, bytes_per_s: int = 40_000):
    """Chromium's own network throttling (DevTools protocol) on this tab's uploads; ``detach()`` ends it."""
    cdp = tab.context.new_cdp_session(tab)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": bytes_per_s})
    return cdp


def check_accessible(tab) -> None:
    assert tab.evaluate(UNLABELLED) == []
    worst = tab.evaluate(MIN_CONTRAST)
    assert worst["ratio"] >= 4.5, worst


# ------------------------------------------------------------------ the browser test


@needs_browser
def test_page_ranks_explains_and_shows_errors_in_chromium(page, page_server, creatives):
    images, query, title = creatives
    answer = page.goto(page_server.url + "/")
    assert answer.status == 200 and answer.headers["content-security-policy"] == CSP
    _enter_the_token_by_keyboard(page)
    shown = _rank_on_the_page(page, images, query, title)
    _check_ranking(page, page_server.url, shown, images, query, title)
    _check_explanation(page, page_server.url, shown, images, query, title)
    _check_refusal(page, page_server)
    assert page.evaluate("window.__csp") == [] and page.problems == []


def _enter_the_token_by_keyboard(page) -> None:
    """The server wants a token, so the page asks for it; Tab reaches the picker, the brief and the token in order."""
    page.wait_for_selector("#token-field:not([hidden])")
    assert "needs an access token" in page.inner_text("#status")
    page.keyboard.press("Tab")  # the skip link
    visited = []
    for _ in range(8):
        page.keyboard.press("Tab")
        visited.append(page.evaluate("document.activeElement.id"))
    assert [v for v in visited if v in ("pick", "query", "title", "token")] == ["pick", "query", "title", "token"]
    page.fill("#token", TOKEN)
    page.keyboard.press("Tab")  # change event: the token is stored and the server asked again
    page.wait_for_selector("#status:has-text('Ready')")
    assert page.evaluate("sessionStorage.getItem('c4u-token')") == TOKEN
    assert page.evaluate("localStorage.length") == 0 and page.context.cookies() == []


def _rank_on_the_page(page, images, query, title) -> list[tuple]:
    """Choose the files, type the brief, press Enter; the (card, name, score) of each ranked creative, best first."""
    page.set_input_files("#files", [str(p) for p in images])
    page.fill("#query", query)
    page.fill("#title", title)
    assert page.inner_text("#count") == f"{len(images)} images chosen."
    check_accessible(page)
    shot(page, "chosen")
    throttle = slow_uploads(page) if SHOTS else None  # so that the screenshot catches the progress bar
    page.focus("#title")
    page.keyboard.press("Enter")
    if throttle:
        page.wait_for_selector("#progress-text:has-text('Uploading')")
        shot(page, "progress", "section:has(#brief)")
        throttle.detach()
    page.wait_for_selector("#results-section:not([hidden])")
    assert any(t.startswith(f"Ranking {len(images)} creatives on the server…") for t in page.evaluate("window.__progress"))
    return [(c, c.get_attribute("data-name"), float(c.locator(".score").get_attribute("data-score"))) for c in page.locator("#results li.card").all()]


def _check_ranking(page, url, shown, images, query, title) -> None:
    """The page's order and scores are /v1/rank's for the same files; one winner badge; the download holds them."""
    files = [("images", (p.name, p.read_bytes(), "image/png")) for p in images]
    want = httpx.post(url + "/v1/rank", files=files, data={"query": query, "title": title}, headers=AUTH, timeout=60).json()
    assert [name for _, name, _ in shown] == [want["names"][i] for i in want["order"]]
    assert [score for _, _, score in shown] == [want["scores"][str(i)] for i in want["order"]]  # the very floats
    for card, _, score in shown:
        assert abs(float(card.locator(".score").inner_text().removeprefix("score ")) - score) <= 5e-4
    assert shown[0][0].locator(".badge").inner_text() == "Winner" and page.locator("#results li.card .badge").count() == 1
    check_accessible(page)
    shot(page, "ranked", "#results-section")
    with page.expect_download() as download:
        page.click("#download")
    saved = json.loads(Path(download.value.path()).read_text())
    assert saved["rank"]["order"] == want["order"] and [r["name"] for r in saved["ranking"]] == [n for _, n, _ in shown]


def _check_explanation(page, url, shown, images, query, title) -> None:
    """Explain (Enter on the button) shows /v1/compare's explanation of the top two: the protocol's marks, or the raw text."""
    page.focus("#explain")
    page.keyboard.press("Enter")
    page.wait_for_selector("#explain-section:not([hidden])")
    by_name = {p.name: p for p in images}
    a, b = by_name[shown[0][1]], by_name[shown[1][1]]
    compare = httpx.post(url + "/v1/compare", files={"image_a": (a.name, a.read_bytes()), "image_b": (b.name, b.read_bytes())},
                         data={"query": query, "title": title, "explain": "true"}, headers=AUTH, timeout=60).json()
    ex, verdict = compare["explanation"], page.inner_text("#explain-verdict")
    assert f"Creative {compare['winner']} (" in verdict and f"{compare['p_a']:.3f}" in verdict
    if ex["parsed"]:
        rows = page.locator("table.protocol tbody tr").all()
        assert [(r.locator("th").inner_text(), r.locator(".mark").inner_text()) for r in rows] == [(q.key, MARKS[ex["protocol"][q.key]]) for q in QUESTIONS]
        assert page.inner_text(".reasoning") == (ex["reasoning"] or "(no free text)")
    else:  # a random-weight model's text: shown raw, flagged
        assert page.inner_text("pre.raw") == (ex["text"] or "(empty)") and ex["error"] in page.inner_text("#explain-body")
    check_accessible(page)
    shot(page, "explain", "#explain-section")


def _check_refusal(page, server) -> None:
    """A text file dropped among the images: the server refuses it, the page says so with the request id the log carries."""
    page.evaluate("""() => { const dt = new DataTransfer();
        dt.items.add(new File(['Brief: summer sale, 20% off. Not an image.'], 'brief.txt', {type: 'text/plain'}));
        document.getElementById('drop').dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true})); }""")
    assert page.inner_text("#count") == "5 images chosen."
    page.click("#rank")
    page.wait_for_selector("#error:not([hidden])")
    assert page.inner_text("#error-summary") == "A file could not be read as an image."
    assert "brief.txt" in page.inner_text("#error-detail") and "422" in page.inner_text("#error-detail")
    rid = page.inner_text("#error-id")
    assert re.fullmatch(r"[0-9a-f]{16}", rid)
    assert any(line.get("request_id") == rid and line.get("status") == 422 for line in _log_lines(server))
    check_accessible(page)
    shot(page, "error")


@needs_browser
def test_page_draws_a_parsed_explanation_as_the_protocol_table(page, server):
    """The page's explain.js given what the runtime's parser makes of a complete rationale: Q1–Q10 with their marks."""
    from creative4u_small.contract.protocol import render_protocol
    from creative4u_small.runtime.explain import explanation

    answers = {"Q1": "no", "Q2": "no", "Q3": "A>B", "Q4": "A=B", "Q5": "A<B", "Q6": "A=B", "Q7": "A>B", "Q8": "A>B", "Q9": "A<B", "Q10": "B"}
    text = f"<think>\n{render_protocol(answers)}\nCreative A shows the bottle larger.\n</think>"
    page.goto(server.url + "/")
    for verdict in ("A", "B"):
        result = {"winner": verdict, "p_a": 0.25, "consistent": True, "explanation": explanation(text, verdict).to_dict()}
        page.evaluate("""async (result) => { const m = await import('/ui/explain.js');
            m.showExplanation(document.getElementById('explain-section'), result, {name: 'a.png'}, {name: 'b.png'}); }""", result)
        rows = page.locator("table.protocol tbody tr").all()
        assert [(r.locator("th").inner_text(), r.locator(".mark").inner_text()) for r in rows] == [(q.key, MARKS[answers[q.key]]) for q in QUESTIONS]
        assert page.inner_text(".reasoning") == "Creative A shows the bottle larger."
        assert ("Q10 names the other creative" in page.inner_text("#explain-body")) == (verdict == "A")
    assert page.locator("table.protocol caption").inner_text() == "Creative Evaluation Protocol — A: a.png, B: b.png"
    check_accessible(page)
    shot(page, "protocol", "#explain-section")
    assert page.evaluate("window.__csp") == [] and page.problems == []


def _log_lines(server) -> list[dict]:
    out = []
    for line in server.log().splitlines():
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


@needs_browser
def test_page_without_a_token_asks_for_none(page, serve_export, tmp_path):
    """A server without --api-key-env: no token field, its pool and body limits from /v1/model, a pair ranked, then the server gone."""
    srv = ServerProcess(serve_export, tmp_path / "serve.log", "--max-rank-images", "3", "--max-body-mb", "0.05")
    try:
        srv.wait_ready()
        page.goto(srv.url + "/")
        page.wait_for_selector("#status:has-text('Ready')")
        assert page.locator("#token-field").is_hidden() and page.inner_text("#max-images") == "3"
        red, blue = tmp_path / "red.png", tmp_path / "blue.png"
        _square(red, (220, 30, 30))
        _square(blue, (30, 30, 220))
        page.set_input_files("#files", [str(red), str(blue), str(red), str(blue)])
        assert page.is_disabled("#rank") and "at most 3" in page.inner_text("#count")  # over the server's limit
        page.click("#selection li:last-child button.remove")
        page.click("#selection li:last-child button.remove")
        noise = tmp_path / "noise.png"
        Image.fromarray(np.random.default_rng(0).integers(0, 256, (160, 160, 3), dtype=np.uint8)).save(noise)  # ~77 KB
        page.set_input_files("#files", [str(noise)])
        assert page.is_disabled("#rank") and "above this server's 0.05 MB a request" in page.inner_text("#count")
        page.click("#selection li:last-child button.remove")
        page.click("#rank")
        page.wait_for_selector("#results-section:not([hidden])")
        assert sorted(c.get_attribute("data-name") for c in page.locator("#results li.card").all()) == ["blue.png", "red.png"]
        srv.stop()  # the server gone: the page says so, with no request id to give
        page.click("#rank")
        page.wait_for_selector("#error:not([hidden])")
        assert page.inner_text("#error-summary") == "The server could not be reached."
        assert page.inner_text("#error-id") == "none (no answer from the server)"
        assert page.evaluate("window.__csp") == [] and page.problems == []
    finally:
        srv.stop()


def _square(path: Path, colour) -> None:
    Image.new("RGB", (96, 96), colour).save(path)


# ------------------------------------------------------------------ without a browser


def test_page_and_assets_carry_the_csp_and_no_inline_script(server):
    page = httpx.get(server.url + "/", timeout=10)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for name in ASSETS:
        r = httpx.get(f"{server.url}/ui/{name}", timeout=10)
        assert r.status_code == 200 and r.headers["content-type"] == ASSETS[name], name
        assert r.headers["content-security-policy"] == CSP and r.headers["x-content-type-options"] == "nosniff"
    assert page.headers["content-security-policy"] == CSP and "'unsafe-inline'" not in CSP and "script-src 'self'" in CSP
    html = page.text
    assert all('src="' in tag for tag in re.findall(r"<script[^>]*>", html)) and not re.search(r"\son[a-z]+\s*=", html)
    assert "{{" not in html and "Q10" in html  # the protocol's questions filled in
    assert not re.search(r"https?://", html + "".join(httpx.get(f"{server.url}/ui/{n}").text for n in ASSETS if n.endswith(".js")))
    missing = httpx.get(server.url + "/ui/nope.js", timeout=10)
    assert missing.status_code == 404 and missing.json()["kind"] == "not_found"
    assert "/" not in httpx.get(server.url + "/openapi.json", timeout=10).json()["paths"]  # not part of the API


def test_no_ui_leaves_only_the_api(tiny_selector, monkeypatch, tmp_path):
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    import creative4u_small.cli.serve as serve_cli
    from creative4u_small.cli import app
    from creative4u_small.serve.app import create_app
    from creative4u_small.serve.serve_config import ServeConfig

    got = []
    monkeypatch.setattr(serve_cli, "run_server", got.append)
    assert CliRunner().invoke(app, ["serve", "--export", str(tmp_path), "--no-ui"]).exit_code == 0
    assert got[0].ui is False and ServeConfig().ui is True
    off = TestClient(create_app(ServeConfig(ui=False), tiny_selector))  # no lifespan: routes only
    assert off.get("/").status_code == 404 and off.get("/ui/page.js").status_code == 404
    assert off.get("/healthz").status_code == 200
    assert TestClient(create_app(ServeConfig(), tiny_selector)).get("/").status_code == 200


def test_every_static_file_is_served_and_shipped():
    """The static folder holds exactly the page and its assets, and pyproject ships the folder in the wheel."""
    import tomllib

    from creative4u_small.serve import page

    folder = Path(page.__file__).parent / "static"
    assert {p.name for p in folder.iterdir()} == set(ASSETS) | {"index.html"}
    cfg = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "static/*" in cfg["package-data"]["creative4u_small.serve"]
