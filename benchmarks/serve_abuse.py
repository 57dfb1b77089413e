"""`c4u serve` against an adversarial client: lockout, exhaustion and crash attempts mixed with good requests.

A real server on 127.0.0.1 (bearer token, its open files limited to ``--nofile``, server defaults otherwise)
takes, bounded in count and time (phases in benchmarks/abuse_wire.py):

1. malformed HTTP (request line, header, Content-Length, chunk size) and an unfinished head: JSON refusals;
2. a JSON bomb (``--bomb-mb`` of ``{"0":{},"1":{},...}``), and a well-formed JSON body at the size cap, while
   /healthz is probed every few ms from another process;
3. ``--idle-uploads`` stalled uploads (renewed as the server cuts them) and ``--idle-sockets`` silent
   connections, more than the server's open files, while good compares must be answered in under 1 s;
4. ``--requests`` requests from ``--concurrency`` clients mixing good compares and ranks (plain, JSON, with text
   far over the token budget, with 6,300 x 6,300 one-bit PNGs that decode to ~40 M pixels each) with hostile
   ones (strict text over budget, a rank of pixel bombs over the per-request budget, deep, huge or
   million-key JSON, bools and fractions for integers, too many files, EPS, truncated JPEGs, wrong tokens,
   wrong content types, HEAD probes, a trailing slash with a forged Host);
5. SIGTERM while compares are sent and an upload is stalled.

Every answer is checked: no 5xx; a good request's answer equals the serial in-process Selector's
(``--tolerance``); every refusal is JSON whose ``request_id`` equals the ``X-Request-ID`` header; the
server's RSS after the mixed run stays within ``--rss-ratio`` of its RSS after warm-up. The last line is one
JSON object; the exit status is 1 when a check failed.

    python benchmarks/serve_abuse.py --export EXPORT [--requests 2000]
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import random
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from abuse_wire import empty_objects, idle_phase, json_bomb_phase, json_large_phase, refusals_phase, shutdown_phase
from serve_harness import Server, make_images

from creative4u_small.contract.cpu_info import cpu_info

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


def check(r: httpx.Response, expected: set, key, reference, tol: float) -> str | None:
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
    want = reference(key)
    got = body["order"] if key[0] == "rank" else body["p_a"]
    return None if (got == want if key[0] == "rank" else abs(got - want) <= tol) else f"{key[0]} answer {got} != in-process {want}"


def mixed_phase(server: Server, mix: dict, n: int, concurrency: int, seed: int, reference, tol: float) -> dict:
    names = [k for k, (w, _) in mix.items() for _ in range(w)]
    plan = [(k, random.Random(seed + i)) for i, k in enumerate(random.Random(seed).choices(names, k=n))]
    by_case: dict = {k: {} for k in mix}
    problems, lock = [], threading.Lock()

    def worker(k: int):
        with httpx.Client(headers=AUTH, timeout=120) as c:
            for name, rng in plan[k::concurrency]:
                method, path, kw, expected, key = mix[name][1](rng)
                kw = dict(kw)
                headers = {**AUTH, **kw.pop("headers", {})}
                r = c.request(method, server.url + path, headers=headers, **kw)
                problem = check(r, expected, key, reference, tol)
                with lock:
                    by_case[name][r.status_code] = by_case[name].get(r.status_code, 0) + 1
                    if problem:
                        problems.append(f"{name}: {problem}")

    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(worker, range(concurrency)))
    return {"requests": n, "seconds": round(time.perf_counter() - t0, 1), "by_case": {k: {str(s): c for s, c in v.items()} for k, v in by_case.items()},
            "server_errors": sum(c for v in by_case.values() for s, c in v.items() if s >= 500), "problems": problems[:20], "problem_count": len(problems)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--export", type=Path, required=True)
    ap.add_argument("--precision", default="fp32", help="fp32 compares the answers exactly (|dp_a| <= --tolerance)")
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=12)
    ap.add_argument("--nofile", type=int, default=1024, help="the server's open-files limit (ulimit -n)")
    ap.add_argument("--bomb-mb", type=float, default=31.0)
    ap.add_argument("--idle-uploads", type=int, default=200)
    ap.add_argument("--idle-sockets", type=int, default=1100)
    ap.add_argument("--tolerance", type=float, default=1e-6)
    ap.add_argument("--rss-ratio", type=float, default=1.5)
    ap.add_argument("--phases", default="refusals,bomb,json_large,idle,mixed,shutdown")
    ap.add_argument("--server-flags", default="", help="more c4u serve flags, space-separated")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    phases = set(args.phases.split(","))
    images, bombs = make_images(64, 256, args.seed), [bomb_png(0), bomb_png(1)]
    reference = references(args.export, args.precision, images, bombs)
    server = Server(args.export, Path(tempfile.mkdtemp(prefix="c4u_abuse_")) / "server.log", "--precision", args.precision, "--threads", "1",
                    "--header-timeout-s", 2, "--api-key-env", TOKEN_ENV, *args.server_flags.split(), env={TOKEN_ENV: TOKEN}, nofile=args.nofile)
    report = {"machine": cpu_info(), "args": {k: str(v) for k, v in vars(args).items()}}
    mix = cases(images, bombs)
    key = ("compare", 0, "trail running shoes", "Men's trail shoe")

    def good() -> str | None:
        r = httpx.post(server.url + "/v1/compare", headers=AUTH, files={"image_a": images[0], "image_b": images[1]}, data={"query": key[2], "title": key[3]}, timeout=30)
        return check(r, {200}, key, reference, args.tolerance)

    def good_request(i: int) -> httpx.Response:
        k = i % 32
        return httpx.post(server.url + "/v1/compare", headers=AUTH, files={"image_a": images[2 * k], "image_b": images[2 * k + 1]}, timeout=30)

    try:
        report["seconds_to_ready"] = round(server.start(), 2)
        mixed_phase(server, {k: mix[k] for k in ("good_compare", "good_rank", "long_text_compare", "bomb_pair_compare")}, 40, 2, args.seed + 1, reference, args.tolerance)
        report["rss_after_warm_up_mb"] = round(server.rss_mb(), 1)
        for name, run in (("refusals", lambda: refusals_phase(server)), ("bomb", lambda: json_bomb_phase(server, AUTH, args.bomb_mb)),
                          ("json_large", lambda: json_large_phase(server, AUTH)),
                          ("idle", lambda: idle_phase(server, TOKEN, good, args.idle_uploads, args.idle_sockets))):
            if name in phases:
                report[name] = run()
                print(json.dumps({name: report[name]}), flush=True)
        if "mixed" in phases:
            report["mixed"] = mixed_phase(server, mix, args.requests, args.concurrency, args.seed, reference, args.tolerance)
            report["rss_after_mb"] = round(server.rss_mb(), 1)
            report["rss_ratio"] = round(report["rss_after_mb"] / report["rss_after_warm_up_mb"], 3)
            report["mixed"]["passed"] = report["mixed"]["server_errors"] == 0 and report["mixed"]["problem_count"] == 0 and report["rss_ratio"] <= args.rss_ratio
            print(json.dumps({"mixed": {k: v for k, v in report["mixed"].items() if k != "by_case"}, "rss_ratio": report["rss_ratio"]}), flush=True)
        if "shutdown" in phases:
            report["shutdown"] = shutdown_phase(server, TOKEN, good_request)
    finally:
        server.stop()
    report["passed"] = all(report[name]["passed"] for name in phases if name in report)
    print(json.dumps(report))
    raise SystemExit(0 if report["passed"] else 1)


if __name__ == "__main__":
    main()
