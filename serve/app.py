"""The FastAPI app: /v1/compare, /v1/rank, /v1/model, /healthz, /readyz, /metrics (OpenAPI at /docs).

``create_app(config, selector)`` takes a loaded ``Selector``; the app's lifespan starts the
micro-batcher and runs one warm-up compare before /readyz answers 200. Every error is JSON
``{"error": one line, "kind", "status", "request_id"}``.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import os
import time
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from PIL import Image
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from creative4u_small.serve import limits
from creative4u_small.serve.batcher import MicroBatcher
from creative4u_small.serve.guard import RequestGuard, error_body, log
from creative4u_small.serve.limits import RequestError
from creative4u_small.serve.metrics import ServeMetrics
from creative4u_small.serve.openapi import COMPARE_BODY, RANK_BODY
from creative4u_small.serve.serve_config import ServeConfig

_MULTIPART, _JSON = "multipart/form-data", "application/json"


def _error(request: Request, status: int, kind: str, reason: str, headers: dict | None = None) -> Response:
    rid = request.scope.get("state", {}).get("request_id", "")
    request.scope.setdefault("state", {})["log_fields"] = {"kind": kind, "error": reason}
    return Response(error_body(status, kind, reason, rid), status_code=status, media_type=_JSON, headers=headers)


def model_summary(selector, config: ServeConfig) -> dict:
    """Model, precision and parity status of the loaded export, plus ``Selector.describe()``."""
    manifest = getattr(selector, "manifest", None)
    parity = {}
    for name, figures in (getattr(manifest, "parity", None) or {}).items():
        if isinstance(figures, dict):
            parity[name] = {k: figures.get(k) for k in ("status", "agreement", "max_abs_dp_a", "reason") if k in figures}
    return {
        "model": {k: v for k, v in (getattr(manifest, "source_model", None) or {}).items() if k != "files"},
        "precision": selector.precision,
        "requested_precision": config.precision,
        "status": getattr(manifest, "status", None),
        "parity": parity,
        "selector": selector.describe(),
        "serve": {**{k: v for k, v in config.to_dict().items() if k in ("lanes", "widen", "max_batch", "max_wait_ms", "max_queue", "max_body_mb", "max_pixels", "max_rank_images")},
                  "batch_limit": batch_limit(config, selector), "wide_threads": wide_threads(config, selector)},
    }


def batch_limit(config: ServeConfig, selector) -> int:
    """``--max-batch``, but 1 with several lanes when the Selector runs its judge pair by pair (dynamic INT8):
    such a batch shares no graph call, it only keeps one lane busy while another idles."""
    return 1 if config.lanes > 1 and selector.pairs_per_judge_call == 1 else config.max_batch


def wide_threads(config: ServeConfig, selector) -> int:
    """Threads of a batch that runs alone on every lane; only on the CPU backend, where threads are cores
    (on a GPU a second set of sessions would only hold a second copy of the weights)."""
    return config.wide_threads if selector.backend == "cpu" else 0


def _warmup_images(shade: int = 0, size: int = 64) -> tuple[Image.Image, Image.Image]:
    """Two plain creatives; each ``shade`` gives new ones, so a second warm-up is not an embedding cache hit."""
    return Image.new("RGB", (size, size), (200, 40, shade)), Image.new("RGB", (size, size), (40, shade, 200))


def create_app(config: ServeConfig, selector, metrics: ServeMetrics | None = None) -> FastAPI:
    metrics = metrics or ServeMetrics()
    state = {"ready": False, "warmup_error": None}
    batcher = MicroBatcher(selector, batch_limit(config, selector), config.max_wait_ms, config.max_queue, config.retry_after_s, metrics,
                           config.lanes, wide_threads(config, selector))
    token = os.environ.get(config.api_key_env, "") if config.api_key_env else ""
    if config.api_key_env and not token:
        raise ValueError(f"--api-key-env {config.api_key_env}: that environment variable is empty or unset; export it or drop the option")

    async def warm_up():
        try:
            await batcher.warm_up(_warmup_images)
            state["ready"] = True
            metrics.ready.set(1)
            log.info("ready", extra={"fields": {"export": str(config.export), "backend": selector.backend}})
        except Exception as e:  # reported at /readyz; the process stays up for /healthz and logs
            state["warmup_error"] = f"{type(e).__name__}: {e}".splitlines()[0]
            log.error("warm-up failed", extra={"fields": {"error": state["warmup_error"]}})

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        batcher.start()
        task = asyncio.get_running_loop().create_task(warm_up())
        yield
        await task
        await batcher.close()
        log.info("stopped", extra={"fields": {"batches": batcher.batches}})

    app = FastAPI(title="creative4u-small selector", version="1", lifespan=lifespan,
                  description="Pick the ad creative users will more likely click: pairwise compare and pool ranking on a torch-free Selector.")
    app.state.batcher, app.state.metrics, app.state.selector = batcher, metrics, selector

    @app.exception_handler(RequestError)
    async def on_request_error(request: Request, e: RequestError):
        return _error(request, e.status, e.kind, e.reason, e.headers)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, e: StarletteHTTPException):
        kind = {401: "unauthorized", 404: "not_found", 405: "method_not_allowed"}.get(e.status_code, "bad_request")
        return _error(request, e.status_code, kind, str(e.detail).splitlines()[0], dict(e.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, e: RequestValidationError):
        first = e.errors()[0] if e.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()))
        return _error(request, 400, "bad_request", f"{where}: {first.get('msg', 'invalid request')}")

    @app.exception_handler(Exception)
    async def on_internal(request: Request, e: Exception):
        log.error("internal error", exc_info=e, extra={"fields": {"request_id": request.scope.get("state", {}).get("request_id")}})
        return _error(request, 500, "internal", f"internal error ({type(e).__name__}); see the server log for this request id")

    def authorize(request: Request) -> None:
        if not token:
            return
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            raise RequestError(401, "unauthorized", "missing or wrong bearer token; send 'Authorization: Bearer <token>'", {"WWW-Authenticate": "Bearer"})

    def require_ready() -> None:
        if not state["ready"]:
            reason = f"warm-up failed: {state['warmup_error']}" if state["warmup_error"] else "model warming up"
            raise RequestError(503, "not_ready", f"not ready ({reason}); retry after {config.retry_after_s} s", {"Retry-After": str(config.retry_after_s)})

    async def read_body(request: Request) -> tuple[str, bytes]:
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        body = await request.body()
        if not body:
            raise RequestError(400, "bad_request", "empty request body; send multipart/form-data or application/json")
        if ctype not in (_MULTIPART, _JSON):
            raise RequestError(415, "unsupported_media_type", f"content type {ctype or '(none)'!r} is not multipart/form-data or application/json")
        return ctype, body

    async def parse_json(body: bytes) -> dict:
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise RequestError(400, "bad_request", f"body is not valid JSON ({e})") from None
        if not isinstance(data, dict):
            raise RequestError(400, "bad_request", "JSON body must be an object")
        return data

    async def file_bytes(form, name: str) -> bytes:
        value = form.get(name)
        if value is None:
            raise RequestError(400, "bad_request", f"{name}: missing file field; send it as a multipart file")
        if not isinstance(value, UploadFile):
            raise RequestError(400, "bad_request", f"{name}: sent as a text field; send the image as a file (images are never read from URLs or server paths)")
        return await value.read()

    async def decode(field: str, data: bytes) -> Image.Image:
        t0 = time.perf_counter()
        image = await run_in_threadpool(limits.decode_image, field, data, config.max_pixels)
        metrics.stage.labels("decode").observe(time.perf_counter() - t0)
        return image

    @app.get("/healthz", summary="Process up")
    async def healthz():
        return {"status": "ok"}

    @app.get("/readyz", summary="Graphs loaded and the warm-up compare done")
    async def readyz(request: Request):
        if not state["ready"]:
            reason = f"warm-up failed: {state['warmup_error']}" if state["warmup_error"] else "warming up"
            return _error(request, 503, "not_ready", reason, {"Retry-After": str(config.retry_after_s)})
        return {"status": "ready", "backend": selector.backend}

    @app.get("/metrics", summary="Prometheus metrics")
    async def prometheus():
        metrics.queue_depth.set(batcher.depth)
        return Response(metrics.render(), media_type=metrics.content_type)

    @app.get("/v1/model", summary="The loaded export: model, precision, parity status, Selector.describe()", dependencies=[Depends(authorize)])
    async def model():
        return model_summary(selector, config)

    @app.post("/v1/compare", summary="Which of two creatives users will more likely click", dependencies=[Depends(authorize)], openapi_extra=COMPARE_BODY)
    async def compare(request: Request):
        require_ready()
        with batcher.admit(compare=True) as ticket:
            ctype, body = await read_body(request)
            if ctype == _JSON:
                data = await parse_json(body)
                raw_a, raw_b = limits.decode_base64("image_a", data.get("image_a")), limits.decode_base64("image_b", data.get("image_b"))
                fields = data
            else:
                async with request.form(max_files=2, max_fields=8) as form:
                    raw_a, raw_b = await file_bytes(form, "image_a"), await file_bytes(form, "image_b")
                    fields = {k: form.get(k) for k in ("query", "title", "explain")}
            query = limits.check_text("query", fields.get("query"), config.max_text_chars)
            title = limits.check_text("title", fields.get("title"), config.max_text_chars)
            explain = limits.parse_bool("explain", fields.get("explain"))
            a, b = await decode("image_a", raw_a), await decode("image_b", raw_b)
            try:
                result, queued_s, batch = await batcher.compare(ticket, a, b, query, title, explain)
            except RequestError:
                raise
            except (ValueError, KeyError) as e:
                raise RequestError(422, "bad_request", str(e) or type(e).__name__) from None
        out = result.to_dict()
        out["server"] = {"queue_ms": round(queued_s * 1000, 3), "batch_pairs": batch}
        request.scope["state"]["log_fields"] = dict(out["server"], winner=result.winner)
        out["request_id"] = request.scope["state"]["request_id"]
        return JSONResponse(out)

    @app.post("/v1/rank", summary="Order a pool of creatives best first (Bradley–Terry scores)", dependencies=[Depends(authorize)], openapi_extra=RANK_BODY)
    async def rank(request: Request):
        require_ready()
        with batcher.admit(compare=False):
            ctype, body = await read_body(request)
            if ctype == _JSON:
                data = await parse_json(body)
                items = data.get("images")
                if not isinstance(items, list):
                    raise RequestError(400, "bad_request", "images: expected a list of base64 strings")
                limits.check_pool(len(items), config.max_rank_images)
                raws = [limits.decode_base64(f"images[{i}]", x) for i, x in enumerate(items)]
                names = [str(n) for n in data.get("names", [])] or None
                fields = data
            else:
                async with request.form(max_files=config.max_rank_images + 1, max_fields=8) as form:
                    files = form.getlist("images")
                    limits.check_pool(len(files), config.max_rank_images)
                    for i, f in enumerate(files):
                        if not isinstance(f, UploadFile):
                            raise RequestError(400, "bad_request", f"images[{i}]: sent as a text field; send each image as a file")
                    raws = [await f.read() for f in files]
                    names = [f.filename or str(i) for i, f in enumerate(files)]
                    fields = {k: form.get(k) for k in ("query", "title", "top_k")}
            query = limits.check_text("query", fields.get("query"), config.max_text_chars)
            title = limits.check_text("title", fields.get("title"), config.max_text_chars)
            top_k = limits.parse_top_k(fields.get("top_k"), len(raws))
            images = [await decode(f"images[{i}]" + (f" ({names[i]})" if names and i < len(names) else ""), raw) for i, raw in enumerate(raws)]
            t0 = time.perf_counter()
            try:
                result = await batcher.run(selector.rank, images, query, title, top_k)
            except (ValueError, KeyError) as e:
                raise RequestError(422, "bad_request", str(e) or type(e).__name__) from None
            metrics.observe_timings(result.timings_ms)
            metrics.images_encoded.set(selector.images_encoded)
        out = result.to_dict()
        out["names"] = names
        request.scope["state"]["log_fields"] = {"images": len(images), "comparisons": len(result.comparisons)}
        out["server"] = {"run_ms": round((time.perf_counter() - t0) * 1000, 3)}
        out["request_id"] = request.scope["state"]["request_id"]
        return JSONResponse(out)

    app.add_middleware(RequestGuard, max_body_bytes=config.max_body_bytes, metrics=metrics)
    return app
