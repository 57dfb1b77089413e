"""The FastAPI app: /v1/compare, /v1/rank, /v1/model, /healthz, /readyz, /metrics (OpenAPI at /docs).

``create_app(config, selector)`` takes a loaded ``Selector``; the app's lifespan starts the
micro-batcher and runs one warm-up compare before /readyz answers 200. A request is read (within
``--body-timeout-s``), parsed and checked, its images decoded one at a time into the model's frames,
and only then queued. Every error is JSON ``{"error": one line, "kind", "status", "request_id"}``, also those
the connection answers before the app (serve/protocol.py, which the lifespan hands its ``Wire``).
"""

from __future__ import annotations

import asyncio
import hmac
import os
import time
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from PIL import Image
from starlette.exceptions import HTTPException as StarletteHTTPException

from creative4u_small.contract.images import ImageError
from creative4u_small.runtime.tokenize import TextBudgetError
from creative4u_small.serve.batcher import MicroBatcher
from creative4u_small.serve.bodies import Body, read_compare, read_rank
from creative4u_small.serve.guard import RequestGuard, error_body, log
from creative4u_small.serve.limits import RequestError, bad_image, body_cap, check_pixels
from creative4u_small.serve.metrics import ServeMetrics
from creative4u_small.serve.page import mount_page
from creative4u_small.serve.protocol import WIRE_STATE, Wire, connection_limit
from creative4u_small.serve.reading import METER_STATE, Readers
from creative4u_small.serve.schemas import CompareResponse, RankResponse, RequestModels, errors
from creative4u_small.serve.serve_config import ServeConfig, usable_cores

_JSON = "application/json"
_SERVE_FIELDS = ("workers", "max_batch", "max_wait_ms", "max_queue", "max_reading", "body_timeout_s", "body_grace_s", "min_body_rate",
                 "header_timeout_s", "max_connections", "max_body_mb", "max_pixels", "max_request_pixels", "max_rank_images", "max_text_chars")


def _error(request: Request, status: int, kind: str, reason: str, headers: dict | None = None) -> Response:
    rid = request.scope.get("state", {}).get("request_id", "")
    request.scope.setdefault("state", {})["log_fields"] = {"kind": kind, "error": reason}
    return Response(error_body(status, kind, reason, rid), status_code=status, media_type=_JSON, headers=headers)


def model_summary(selector, config: ServeConfig) -> dict:
    """Model, precision and parity status of the loaded export, ``Selector.describe()`` and the server's limits."""
    manifest = getattr(selector, "manifest", None)
    parity = {}
    for name, figures in (getattr(manifest, "parity", None) or {}).items():
        if isinstance(figures, dict):
            parity[name] = {k: figures.get(k) for k in ("status", "agreement", "max_abs_dp_a", "reason") if k in figures}
    return {
        "model": {k: v for k, v in (getattr(manifest, "source_model", None) or {}).items() if k != "files"},
        "precision": selector.precision,
        "requested_precision": config.selector.precision,
        "status": getattr(manifest, "status", None),
        "parity": parity,
        "selector": selector.describe(),
        "serve": {**{k: v for k, v in config.to_dict().items() if k in _SERVE_FIELDS}, "threads": config.selector.threads, "pid": os.getpid()},
    }


def _warmup_images(size: int = 64) -> tuple[Image.Image, Image.Image]:
    return Image.new("RGB", (size, size), (200, 40, 0)), Image.new("RGB", (size, size), (40, 0, 200))


class Service:
    """One server's state (the Selector, its batcher, readiness) and the request handlers."""

    def __init__(self, config: ServeConfig, selector, metrics: ServeMetrics):
        self.config, self.selector, self.metrics = config, selector, metrics
        self.readers = Readers(config.max_reading, config.min_body_rate, config.body_grace_s, config.body_timeout_s, config.retry_after_s, metrics=metrics)
        self.batcher = MicroBatcher(selector, config.max_batch, config.max_wait_ms, config.max_queue, config.retry_after_s, self.readers, metrics)
        self.readers.on_change = self.batcher.wake
        self.wire = Wire(config.header_timeout_s, connection_limit(config.max_connections), config.retry_after_s, self.shut_down, self.wire_refusal)
        self.models = RequestModels(config)
        self.ready, self.warmup_error = False, None
        self.decoding = asyncio.Semaphore(usable_cores())  # full-size decodes at once: bounds their memory
        self.token = os.environ.get(config.api_key_env, "") if config.api_key_env else ""
        if config.api_key_env and not self.token:
            raise ValueError(f"--api-key-env {config.api_key_env}: that environment variable is empty or unset; export it or drop the option")

    # ------------------------------------------------------------ lifecycle

    async def warm_up(self) -> None:
        try:
            await self.batcher.run(self.selector.compare, *_warmup_images(), "warm-up", "warm-up")
            self.ready = True
            self.metrics.ready.set(1)
            log.info("ready", extra={"fields": {"export": str(self.config.export), "backend": self.selector.backend}})
        except Exception as e:  # reported at /readyz; the process stays up for /healthz and logs
            self.warmup_error = f"{type(e).__name__}: {e}".splitlines()[0]
            log.error("warm-up failed", extra={"fields": {"error": self.warmup_error}})

    @asynccontextmanager
    async def lifespan(self, app: FastAPI):
        self.batcher.start()
        task = asyncio.get_running_loop().create_task(self.warm_up())
        yield {WIRE_STATE: self.wire}
        await task
        await self.batcher.close()
        log.info("stopped", extra={"fields": {"batches": self.batcher.batches}})

    def shut_down(self) -> None:
        """The server stops: bodies still arriving are cut at once (503); requests being computed finish."""
        self.readers.cut_all("server shutting down while the request body was arriving; send it again after the restart or to another replica")
        log.info("shutting down", extra={"fields": {"reading": self.readers.count, "queued": self.batcher.depth}})

    def wire_refusal(self, status: int, kind: str, request_id: str, reason: str) -> None:
        """Count and log a refusal the connection answered before the app (serve/protocol.py)."""
        self.metrics.requests.labels("other", str(status)).inc()
        self.metrics.errors.labels(kind).inc()
        log.info("request", extra={"fields": {"request_id": request_id, "status": status, "kind": kind, "error": reason}})

    # ------------------------------------------------------------ checks shared by the endpoints

    def authorize(self, credentials: HTTPAuthorizationCredentials | None) -> None:
        if not self.token:
            return
        if credentials is None or not hmac.compare_digest(credentials.credentials.strip().encode(), self.token.encode()):
            raise RequestError(401, "unauthorized", "missing or wrong bearer token; send 'Authorization: Bearer <token>'", {"WWW-Authenticate": "Bearer"})

    def not_ready_reason(self) -> str:
        return f"warm-up failed: {self.warmup_error}" if self.warmup_error else "model warming up"

    def require_ready(self) -> None:
        if not self.ready:
            retry = str(self.config.retry_after_s)
            raise RequestError(503, "not_ready", f"not ready ({self.not_ready_reason()}); retry after {retry} s", {"Retry-After": retry})

    def check_text(self, body: Body) -> None:
        """Special tokens (422) and, with ``strict``, text over the model's token budget (422) before any image is decoded."""
        try:
            self.selector.prompt(body.fields.query, body.fields.title, strict=body.fields.strict)
        except TextBudgetError as e:
            raise RequestError(422, "text_too_long", str(e)) from None
        except ValueError as e:
            raise RequestError(422, "bad_request", str(e)) from None

    async def frames(self, body: Body) -> list:
        """Each image decoded and preprocessed on its own (at most one per core at once), after the header checks."""
        check_pixels(body.images, self.config.selector.max_pixels, self.config.max_request_pixels)
        out = []
        for field, data in body.images:
            t0 = time.perf_counter()
            async with self.decoding:
                try:
                    out.append(await asyncio.to_thread(self.selector.frame, data, "--max-pixels"))
                except ImageError as e:
                    raise bad_image(field, e) from None
            self.metrics.stage.labels("decode").observe(time.perf_counter() - t0)
        return out

    async def read(self, request: Request, read_fields, compare: bool) -> tuple[Body, list]:
        """The request's body and frames, holding a reading slot (not a queue slot) until both are done."""
        self.require_ready()
        async with self.readers.slot(compare, request.scope["state"].get(METER_STATE)) as reader:
            body = await read_fields(request, self.readers, reader, self.config)
            self.check_text(body)
            return body, await self.frames(body)

    # ------------------------------------------------------------ endpoints

    async def compare(self, request: Request) -> JSONResponse:
        body, (a, b) = await self.read(request, read_compare, compare=True)
        f = body.fields
        with self.batcher.admit():
            result, queued_s, batch = await self.batcher.compare(a, b, f.query, f.title, f.explain)
        out = result.to_dict()
        out["server"] = {"queue_ms": round(queued_s * 1000, 3), "batch_pairs": batch}
        request.scope["state"]["log_fields"] = dict(out["server"], winner=result.winner, truncated=sorted(result.truncated))
        out["request_id"] = request.scope["state"]["request_id"]
        return JSONResponse(out)

    async def rank(self, request: Request) -> JSONResponse:
        body, frames = await self.read(request, read_rank, compare=False)
        f = body.fields
        t0 = time.perf_counter()
        with self.batcher.admit():
            result = await self.batcher.run(self.selector.rank, frames, f.query, f.title, f.top_k)
        self.metrics.observe_timings(result.timings_ms)
        self.metrics.images_encoded.set(self.selector.images_encoded)
        out = result.to_dict()
        out["names"] = body.names
        out["server"] = {"run_ms": round((time.perf_counter() - t0) * 1000, 3)}
        out["request_id"] = request.scope["state"]["request_id"]
        request.scope["state"]["log_fields"] = {"images": len(frames), "comparisons": len(result.comparisons)}
        return JSONResponse(out)

    async def readyz(self, request: Request):
        if not self.ready:
            return _error(request, 503, "not_ready", self.not_ready_reason(), {"Retry-After": str(self.config.retry_after_s)})
        return {"status": "ready", "backend": self.selector.backend}

    async def metrics_text(self) -> Response:
        self.metrics.queue_depth.set(self.batcher.depth)
        return Response(self.metrics.render(), media_type=self.metrics.content_type)


def _install_error_handlers(app: FastAPI) -> None:
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


def create_app(config: ServeConfig, selector, metrics: ServeMetrics | None = None) -> FastAPI:
    service = Service(config, selector, metrics or ServeMetrics())
    app = FastAPI(title="creative4u-small selector", version="1", lifespan=service.lifespan, redirect_slashes=False,
                  description="Pick the ad creative users will more likely click: pairwise compare and pool ranking on a torch-free Selector.")
    app.state.service, app.state.batcher, app.state.metrics, app.state.selector = service, service.batcher, service.metrics, selector
    _install_error_handlers(app)
    bearer = HTTPBearer(auto_error=False, description="The token in the variable --api-key-env names.")

    def authorize(credentials: HTTPAuthorizationCredentials | None = Security(bearer)):
        service.authorize(credentials)

    guarded = {"dependencies": [Depends(authorize)]} if service.token else {}
    refusals = (400, 401, 408, 413, 415, 422, 500, 503)
    bodies = service.models.openapi()
    app.add_api_route("/v1/compare", service.compare, methods=["POST"], summary="Which of two creatives users will more likely click",
                      responses={200: {"model": CompareResponse}, **errors(*refusals)}, openapi_extra=bodies["compare"], **guarded)
    app.add_api_route("/v1/rank", service.rank, methods=["POST"], summary="Order a pool of creatives best first (Bradley–Terry scores)",
                      responses={200: {"model": RankResponse}, **errors(*refusals)}, openapi_extra=bodies["rank"], **guarded)
    app.add_api_route("/v1/model", lambda: model_summary(selector, config), methods=["GET"], responses=errors(401, 500),
                      summary="The loaded export: model, precision, parity status, Selector.describe(), the server's limits", **guarded)
    app.add_api_route("/healthz", lambda: {"status": "ok"}, methods=["GET", "HEAD"], summary="Process up")
    app.add_api_route("/readyz", service.readyz, methods=["GET", "HEAD"], responses=errors(503), summary="Graphs loaded and the warm-up compare done")
    app.add_api_route("/metrics", service.metrics_text, methods=["GET"], summary="Prometheus metrics", response_class=Response,
                      responses={200: {"content": {service.metrics.content_type.split(";")[0]: {"schema": {"type": "string"}}}, "description": "Prometheus text format"}})
    if config.ui:
        mount_page(app)
    app.add_middleware(RequestGuard, body_cap=lambda path, ctype: body_cap(config, path, ctype), metrics=service.metrics)
    return app
