"""`c4u serve` against an adversarial client (`serve_abuse.py`): lockout, exhaustion and crash attempts mixed with
good requests, every answer checked against the serial in-process Selector. The wire-level phases are in
``abuse_wire``."""

from __future__ import annotations

import base64
import io
import json
import random
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx

from creative4u_small.bench.abuse_wire import empty_objects, idle_phase, json_bomb_phase, json_large_phase, refusals_phase, shutdown_phase
from creative4u_small.bench.script_args import require_subset, settings_dict
from creative4u_small.bench.serve_harness import Server, make_images
from creative4u_small.contract.cpu_info import cpu_info
from creative4u_small.contract.settings import setting

PHASES = ("refusals", "bomb", "json_large", "idle", "mixed", "shutdown")

TOKEN_ENV, TOKEN = "C4U_ABUSE_TOKEN", "abuse-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
LONG = " ".join(["waterproof trail running shoes for men and women"] * 40)[:2000]  # ~2,000 characters, far over 64 tokens


def bomb_png(seed: int, side: int = 6300) -> bytes:
    """A one-bit PNG of side x side (a few KB on disk, ~40 M pixels decoded)."""
    from PIL import Image, ImageDraw

    im = Image.new("1", (side, side), 0)
    ImageDraw.Draw(im).rectangle([seed * 50, seed * 50, side // 2 + seed * 50, side // 3], fill=1)
    buf = io.BytesIO()
    im.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def cases(images: list[bytes], bombs: list[bytes]) -> dict:
    """name -> (weight, make(rng) -> (method, path, kwargs, expected statuses, reference key or None))."""
    b64 = [base64.b64encode(x).decode() for x in images[:8]]
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n"

    def pair(rng, query="trail running shoes", title="Men's trail shoe"):
        i = rng.randrange(len(images) // 2)
        return ("compare", i, query, title), {"files": {"image_a": images[2 * i], "image_b": images[2 * i + 1]}, "data": {"query": query, "title": title}}

    def good(rng):
        key, kw = pair(rng)
        return "POST", "/v1/compare", kw, {200}, key

    def long_text(rng):
        key, kw = pair(rng, LONG, LONG)
        return "POST", "/v1/compare", kw, {200}, key

    def rank(rng):
        idx = rng.sample(range(len(images)), 6)
        return "POST", "/v1/rank", {"files": [("images", (f"{i}.jpg", images[i])) for i in idx], "data": {"query": LONG[:300], "top_k": "3"}}, {200}, ("rank", tuple(idx))

    def json_good(rng):
        key, kw = pair(rng)
        i = key[1]
        body = {"image_a": base64.b64encode(images[2 * i]).decode(), "image_b": base64.b64encode(images[2 * i + 1]).decode(), "query": key[2], "title": key[3]}
        return "POST", "/v1/compare", {"json": body}, {200}, key

    def bomb_pair(rng):
        return "POST", "/v1/compare", {"files": {"image_a": bombs[0], "image_b": bombs[1]}, "data": {"query": "shoes"}}, {200}, ("bombs",)

    def j(body: bytes, path: str = "/v1/rank", statuses=(400, 422)):
        return lambda rng: ("POST", path, {"content": body, "headers": {"content-type": "application/json"}}, set(statuses), None)

    def refused(path, kw, statuses, method="POST"):
        return lambda rng: (method, path, kw, statuses, None)

    return {
        "good_compare": (26, good), "good_json_compare": (4, json_good), "long_text_compare": (10, long_text), "good_rank": (4, rank), "bomb_pair_compare": (2, bomb_pair),
        "strict_over_budget": (3, lambda rng: ("POST", "/v1/compare", {**pair(rng, LONG)[1], "data": {"query": LONG, "strict": "true"}}, {422}, None)),
        "rank_of_8_bombs": (2, refused("/v1/rank", {"files": [("images", bombs[i % 2]) for i in range(8)]}, {413})),
        "json_deep": (2, j(b"[" * 100_000 + b"]" * 100_000)), "json_bigint": (2, j(b'{"images": [' + b"9" * 5000 + b"]}")),
        "json_deep_field": (1, j(b'{"query": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")),
        "json_empty_objects_1mb": (1, j(empty_objects(1.0), "/v1/compare", {400})),
        "json_strings_3mb": (1, j(b'{"images": [' + b'"ab",' * 600_000 + b'"ab"]}', statuses={413})),
        "json_inf": (2, j(b'{"images": ["%s", "%s"], "top_k": 1e400}' % (b64[0].encode(), b64[1].encode()))),
        "json_top_k_bool": (2, j(json.dumps({"images": b64[:2], "top_k": True}).encode())),
        "json_top_k_fraction": (2, j(json.dumps({"images": b64[:2], "top_k": 2.7}).encode())),
        "json_names_int": (2, j(json.dumps({"images": b64[:2], "names": 5}).encode())),
        "json_names_string": (2, j(json.dumps({"images": b64[:6], "names": "abcdef"}).encode())),
        "json_names_short": (2, j(json.dumps({"images": b64[:3], "names": ["a"]}).encode())),
        "three_files": (2, refused("/v1/compare", {"files": [("image_a", images[0]), ("image_b", images[1]), ("image_c", images[2])]}, {400})),
        "rank_65_files": (1, refused("/v1/rank", {"files": [("images", images[0])] * 65}, {413})),
        "rank_66_files": (1, refused("/v1/rank", {"files": [("images", images[0])] * 66}, {413})),
        "eps": (2, refused("/v1/compare", {"files": {"image_a": eps, "image_b": images[1]}}, {422})),
        "truncated_jpeg": (4, refused("/v1/compare", {"files": {"image_a": images[0][:300], "image_b": images[1]}}, {422})),
        "image_token_in_query": (2, refused("/v1/compare", {"files": {"image_a": images[0], "image_b": images[1]}, "data": {"query": "<image>" * 250}}, {422})),
        "wrong_token": (3, refused("/v1/compare", {"files": {"image_a": images[0], "image_b": images[1]}, "headers": {"Authorization": "Bearer nope"}}, {401})),
        "wrong_content_type": (2, refused("/v1/compare", {"content": b"x=1", "headers": {"content-type": "text/plain"}}, {415})),
        "empty_body": (2, refused("/v1/compare", {"headers": {"content-type": "application/json"}}, {400})),
        "head_healthz": (2, refused("/healthz", {}, {200}, "HEAD")), "head_readyz": (2, refused("/readyz", {}, {200}, "HEAD")),
        "trailing_slash_forged_host": (2, refused("/v1/compare/", {"headers": {"Host": "evil.example"}}, {404})),
    }


def references(export: Path, precision: str, images: list[bytes], bombs: list[bytes]):
    """``reference(key) -> p_a or rank order`` from the serial in-process Selector (computed on first use)."""
    from creative4u_small.runtime import Selector, SelectorConfig

    sel = Selector.load(export, backend="cpu", config=SelectorConfig(precision=precision, threads=1))
    memo, lock = {}, threading.Lock()

    def reference(key):
        with lock:
            if key not in memo:
                if key[0] == "compare":
                    memo[key] = sel.compare(images[2 * key[1]], images[2 * key[1] + 1], key[2], key[3]).p_a
                elif key[0] == "bombs":
                    memo[key] = sel.compare(bombs[0], bombs[1], "shoes").p_a
                else:
                    memo[key] = sel.rank([images[i] for i in key[1]], LONG[:300], top_k=3).order
            return memo[key]

    return reference


@dataclass(frozen=True)
class Checker:
    """What is wrong with an answer: its status, the refusal's JSON, or its figure against ``reference(key)`` (the
    serial in-process Selector's, within ``tolerance``)."""

    reference: Callable
    tolerance: float

    def problem(self, r: httpx.Response, expected: set, key) -> str | None:
        """What is wrong with one answer (None when it is right)."""
        if r.status_code >= 500:
            return f"{r.status_code}: {r.text[:200]}"
        if r.status_code not in expected:
            return f"status {r.status_code} (expected {sorted(expected)}): {r.text[:200]}"
        if r.request.method == "HEAD" or r.status_code == 200 and key is None:
            return None
        body = r.json()
        if r.status_code != 200:
            ok = set(body) == {"error", "kind", "status", "request_id"} and body["request_id"] == r.headers.get("x-request-id") and "\n" not in body["error"]
            return None if ok and len(body["error"]) < 400 else f"refusal not the documented JSON: {r.text[:200]}"
        want = self.reference(key)
        got = body["order"] if key[0] == "rank" else body["p_a"]
        return None if (got == want if key[0] == "rank" else abs(got - want) <= self.tolerance) else f"{key[0]} answer {got} != in-process {want}"


def plan_of(mix: dict, n: int, seed: int) -> list:
    """``n`` (case name, its own random generator) drawn from ``mix`` by weight."""
    names = [k for k, (w, _) in mix.items() for _ in range(w)]
    return [(k, random.Random(seed + i)) for i, k in enumerate(random.Random(seed).choices(names, k=n))]


def mixed_phase(server: Server, mix: dict, plan: list, checker: Checker, concurrency: int) -> dict:
    """``plan``'s requests from ``concurrency`` clients; statuses by case, server errors and problems."""
    by_case: dict = {k: {} for k in mix}
    problems, lock = [], threading.Lock()

    def worker(k: int):
        with httpx.Client(headers=AUTH, timeout=120) as c:
            for name, rng in plan[k::concurrency]:
                method, path, kw, expected, key = mix[name][1](rng)
                kw = dict(kw)
                headers = {**AUTH, **kw.pop("headers", {})}
                r = c.request(method, server.url + path, headers=headers, **kw)
                problem = checker.problem(r, expected, key)
                with lock:
                    by_case[name][r.status_code] = by_case[name].get(r.status_code, 0) + 1
                    if problem:
                        problems.append(f"{name}: {problem}")

    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(worker, range(concurrency)))
    return {"requests": len(plan), "seconds": round(time.perf_counter() - t0, 1), "by_case": {k: {str(s): c for s, c in v.items()} for k, v in by_case.items()},
            "server_errors": sum(c for v in by_case.values() for s, c in v.items() if s >= 500), "problems": problems[:20], "problem_count": len(problems)}


@dataclass(frozen=True)
class ServeAbuseConfig:
    export: Path = setting(help="Export folder the server and the in-process reference load.")
    precision: str = setting("fp32", "Graph precision; fp32 compares the answers exactly (|dp_a| <= --tolerance).")
    requests: int = setting(2000, "Requests of the mixed phase.")
    concurrency: int = setting(12, "Clients of the mixed phase.")
    nofile: int = setting(1024, "The server's open-files limit (ulimit -n).")
    bomb_mb: float = setting(31.0, "Size of the JSON bomb (MB of empty objects).")
    idle_uploads: int = setting(200, "Stalled uploads of the idle phase.")
    idle_sockets: int = setting(1100, "Silent connections of the idle phase.")
    tolerance: float = setting(1e-6, "|dp_a| allowed between a good answer and the in-process Selector's.")
    rss_ratio: float = setting(1.5, "Largest server RSS after the mixed phase over its RSS after warm-up.")
    phases: tuple[str, ...] = setting(PHASES, f"Phases to run, of: {', '.join(PHASES)}.")
    server_flags: str = setting("", "More c4u serve flags, space-separated.")
    seed: int = setting(0, "Seed of the creatives and of the mixed phase's draw.")

    def __post_init__(self):
        require_subset("phases", self.phases, PHASES)


def serve_abuse(cfg: ServeAbuseConfig) -> dict:
    """Start the server, warm it up, run the phases asked for (a line each), stop it; the report with ``passed``."""
    images, bombs = make_images(64, 256, cfg.seed), [bomb_png(0), bomb_png(1)]
    checker = Checker(references(cfg.export, cfg.precision, images, bombs), cfg.tolerance)
    server = Server(cfg.export, Path(tempfile.mkdtemp(prefix="c4u_abuse_")) / "server.log", "--precision", cfg.precision, "--threads", "1",
                    "--header-timeout-s", 2, "--api-key-env", TOKEN_ENV, *cfg.server_flags.split(), env={TOKEN_ENV: TOKEN}, nofile=cfg.nofile)
    report = {"machine": cpu_info(), "args": settings_dict(cfg)}
    mix = cases(images, bombs)
    key = ("compare", 0, "trail running shoes", "Men's trail shoe")

    def good() -> str | None:
        r = httpx.post(server.url + "/v1/compare", headers=AUTH, files={"image_a": images[0], "image_b": images[1]}, data={"query": key[2], "title": key[3]}, timeout=30)
        return checker.problem(r, {200}, key)

    def good_request(i: int) -> httpx.Response:
        k = i % 32
        return httpx.post(server.url + "/v1/compare", headers=AUTH, files={"image_a": images[2 * k], "image_b": images[2 * k + 1]}, timeout=30)

    phases = {"refusals": lambda: refusals_phase(server), "bomb": lambda: json_bomb_phase(server, AUTH, cfg.bomb_mb),
              "json_large": lambda: json_large_phase(server, AUTH), "idle": lambda: idle_phase(server, TOKEN, good, cfg.idle_uploads, cfg.idle_sockets),
              "mixed": lambda: _mixed(server, mix, cfg, checker, report), "shutdown": lambda: shutdown_phase(server, TOKEN, good_request)}
    try:
        report["seconds_to_ready"] = round(server.start(), 2)
        warm_up = {k: mix[k] for k in ("good_compare", "good_rank", "long_text_compare", "bomb_pair_compare")}
        mixed_phase(server, warm_up, plan_of(warm_up, 40, cfg.seed + 1), checker, 2)
        report["rss_after_warm_up_mb"] = round(server.rss_mb(), 1)
        for name in PHASES:
            if name in cfg.phases:
                report[name] = phases[name]()
                if name != "shutdown":
                    print(json.dumps({name: report[name]} if name != "mixed" else _mixed_line(report)), flush=True)
    finally:
        server.stop()
    report["passed"] = all(report[name]["passed"] for name in cfg.phases if name in report)
    return report


def _mixed(server: Server, mix: dict, cfg: ServeAbuseConfig, checker: Checker, report: dict) -> dict:
    """The mixed phase, then the server's RSS against its RSS after warm-up."""
    out = mixed_phase(server, mix, plan_of(mix, cfg.requests, cfg.seed), checker, cfg.concurrency)
    report["rss_after_mb"] = round(server.rss_mb(), 1)
    report["rss_ratio"] = round(report["rss_after_mb"] / report["rss_after_warm_up_mb"], 3)
    out["passed"] = out["server_errors"] == 0 and out["problem_count"] == 0 and report["rss_ratio"] <= cfg.rss_ratio
    return out


def _mixed_line(report: dict) -> dict:
    return {"mixed": {k: v for k, v in report["mixed"].items() if k != "by_case"}, "rss_ratio": report["rss_ratio"]}
