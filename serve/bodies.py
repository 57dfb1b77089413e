"""Reading and parsing request bodies: a deadline on the read, JSON with limits, multipart with field-named errors.

``read_compare`` / ``read_rank`` return the images' raw bytes (named by field) and the validated text
fields; every refusal is a ``RequestError`` whose reason names the field and the fix, echoing user text
at most 80 characters.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import math
import typing
from dataclasses import dataclass

from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request

from creative4u_small.contract.protocol import echo
from creative4u_small.serve.limits import RequestError
from creative4u_small.serve.schemas import RequestModels
from creative4u_small.serve.serve_config import ServeConfig

MULTIPART, JSON = "multipart/form-data", "application/json"
MAX_DEPTH = 8  # the bodies are two levels deep; anything deeper is not one of them
MAX_NUMBER_CHARS = 32
MAX_FORM_FIELDS = 16


@dataclass
class Body:
    images: list[tuple[str, bytes]]  # (field name for errors, file bytes)
    fields: BaseModel  # the validated text fields (CompareFields / RankFields / their JSON twins)
    names: list[str] | None = None


async def read_body(request: Request, timeout_s: float) -> tuple[str, bytes]:
    """(content type, body) within ``timeout_s``; 408 after it, 415 for other content types, 400 when empty."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype not in (MULTIPART, JSON):
        raise RequestError(415, "unsupported_media_type", f"content type {echo(ctype) if ctype else '(none)'} is not multipart/form-data or application/json")
    try:
        body = await asyncio.wait_for(request.body(), timeout_s)
    except asyncio.TimeoutError:
        raise RequestError(408, "timeout", f"request body not received within {timeout_s:g} s; send it at once, or raise --body-timeout-s",
                           {"Connection": "close"}) from None
    if not body:
        raise RequestError(400, "bad_request", "empty request body; send multipart/form-data or application/json")
    return ctype, body


# ------------------------------------------------------------------ JSON


def _number_hook(kind):
    def parse(text: str):
        if len(text) > MAX_NUMBER_CHARS:
            raise RequestError(400, "bad_request", f"body: a number of {len(text)} characters; numbers here are small integers")
        value = kind(text)
        if isinstance(value, float) and not math.isfinite(value):
            raise RequestError(400, "bad_request", f"body: {echo(text)} is not a finite number")
        return value

    return parse


def _no_constant(text: str):
    raise RequestError(400, "bad_request", f"body: {text} is not JSON; send numbers as numbers")


def _depth(value, limit: int) -> int:
    """Nesting depth of parsed JSON, counting no further than ``limit + 1``."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, d = stack.pop()
        if isinstance(node, (dict, list)):
            deepest = max(deepest, d)
            if deepest > limit:
                break
            stack.extend((v, d + 1) for v in (node.values() if isinstance(node, dict) else node))
    return deepest


def load_json(body: bytes) -> dict:
    """A JSON object with limits on nesting and number length (never a 500 for hostile JSON)."""
    try:
        data = json.loads(body, parse_int=_number_hook(int), parse_float=_number_hook(float), parse_constant=_no_constant)
    except RecursionError:
        raise RequestError(400, "bad_request", f"body: JSON nested deeper than {MAX_DEPTH} levels") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RequestError(400, "bad_request", f"body is not valid JSON ({str(e).splitlines()[0][:120]})") from None
    if not isinstance(data, dict):
        raise RequestError(400, "bad_request", "body: the JSON body must be an object")
    if _depth(data, MAX_DEPTH) > MAX_DEPTH:
        raise RequestError(400, "bad_request", f"body: JSON nested deeper than {MAX_DEPTH} levels")
    return data


def validate(model: type[BaseModel], data: dict, cfg: ServeConfig) -> BaseModel:
    """``model`` validated strictly; the first problem as a RequestError naming the field (and the server's flag for limits)."""
    try:
        return model.model_validate(data, strict=True)
    except ValidationError as e:
        raise _refusal(e.errors()[0], cfg) from None


def _refusal(err: dict, cfg: ServeConfig) -> RequestError:
    loc = err.get("loc", ())
    where = ".".join(str(x) for x in loc) or "body"
    kind, value = err.get("type", ""), err.get("input")
    field = where.split(".")[0]
    if kind == "string_too_long" and field in ("query", "title"):
        return RequestError(413, "too_large", f"{field}: {len(value)} characters, above the server's limit of {cfg.max_text_chars}; shorten it or raise --max-text-chars")
    if kind == "too_long" and field == "images":
        return pool_too_large(str(len(value)), cfg)
    if kind == "too_short" and field == "images":
        return too_few_images(len(value))
    if kind == "extra_forbidden":
        return RequestError(400, "bad_request", f"{where}: unknown field; see /docs for the fields this endpoint takes")
    if kind == "missing":
        return RequestError(400, "bad_request", f"{where}: missing; see /docs for the fields this endpoint takes")
    message = err.get("msg", "invalid").removeprefix("Value error, ")
    if not loc:  # a rule across fields (names for images) that no JSON schema states: well-formed, not usable
        return RequestError(422, "bad_request", message)
    return RequestError(400, "bad_request", f"{where}: {message}")


def pool_too_large(count: str, cfg: ServeConfig) -> RequestError:
    return RequestError(413, "too_large", f"images: {count} images, above the server's pool limit of {cfg.max_rank_images}; split the pool or raise --max-rank-images")


def too_few_images(n: int) -> RequestError:
    return RequestError(400, "bad_request", f"images: rank needs at least 2 images, got {n}")


def _base64(field: str, text: str) -> bytes:
    if text.startswith("data:") and "," in text:
        text = text.split(",", 1)[1]
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise RequestError(400, "bad_request", f"{field}: not valid base64; encode the image file's bytes") from None


# ------------------------------------------------------------------ multipart


def _form_value(field: str, text: str, annotation):
    """Form text as the type the model wants: booleans as true or false, integers as digits only."""
    wanted = {typing.get_args(a)[0] if typing.get_origin(a) is typing.Annotated else a for a in (typing.get_args(annotation) or (annotation,))}
    if bool in wanted:
        if text in ("true", "false"):
            return text == "true"
        raise RequestError(400, "bad_request", f"{field}: {echo(text)} is not a boolean; send true or false")
    if int in wanted:
        if not (text.isascii() and text.isdigit()) or len(text) > 9:
            raise RequestError(400, "bad_request", f"{field}: {echo(text)} is not a whole number")
        return int(text)
    return text


@contextlib.asynccontextmanager
async def _form(request: Request, max_files: int):
    """The parsed form (None when it has more than ``max_files`` files: the caller phrases that), closed after use."""
    try:
        form = await request.form(max_files=max_files, max_fields=MAX_FORM_FIELDS)
    except (MultiPartException, StarletteHTTPException) as e:  # Starlette wraps the parser's refusal in a 400
        reason = str(getattr(e, "detail", None) or e).splitlines()[0]
        if "Too many files" in reason:
            yield None
            return
        raise RequestError(400, "bad_request", f"multipart body: {reason[:120]}") from None
    try:
        yield form
    finally:
        await form.close()


def _form_fields(form, model: type[BaseModel], files: set[str], cfg: ServeConfig) -> BaseModel:
    data = {}
    for key, value in form.multi_items():
        if key in files:
            if not isinstance(value, UploadFile):
                raise RequestError(400, "bad_request", f"{key}: sent as a text field; send the image as a file (images are never read from URLs or server paths)")
            continue
        if isinstance(value, UploadFile):
            raise RequestError(400, "bad_request", f"{echo(key, 40)}: a file where none is taken; files go in {' or '.join(sorted(files))}")
        if key not in model.model_fields:
            raise RequestError(400, "bad_request", f"{echo(key, 40)}: unknown field; see /docs for the fields this endpoint takes")
        if key in data:
            raise RequestError(400, "bad_request", f"{key}: sent twice")
        data[key] = _form_value(key, value, model.model_fields[key].annotation)
    return validate(model, data, cfg)


# ------------------------------------------------------------------ the two bodies


async def read_compare(request: Request, models: RequestModels, cfg: ServeConfig) -> Body:
    ctype, raw = await read_body(request, cfg.body_timeout_s)
    if ctype == JSON:
        req = validate(models.compare_json, load_json(raw), cfg)
        return Body([("image_a", _base64("image_a", req.image_a)), ("image_b", _base64("image_b", req.image_b))], req)
    async with _form(request, max_files=2) as form:
        if form is None:
            raise RequestError(400, "bad_request", "compare takes exactly two files, image_a and image_b; send no other files")
        fields = _form_fields(form, models.compare_fields, {"image_a", "image_b"}, cfg)
        images = []
        for name in ("image_a", "image_b"):
            value = form.get(name)
            if value is None:
                raise RequestError(400, "bad_request", f"{name}: missing file field; send it as a multipart file")
            images.append((name, await value.read()))
    return Body(images, fields)


async def read_rank(request: Request, models: RequestModels, cfg: ServeConfig) -> Body:
    ctype, raw = await read_body(request, cfg.body_timeout_s)
    if ctype == JSON:
        req = validate(models.rank_json, load_json(raw), cfg)
        return Body([(f"images[{i}]", _base64(f"images[{i}]", x)) for i, x in enumerate(req.images)], req, req.names)
    async with _form(request, max_files=cfg.max_rank_images) as form:
        if form is None:
            raise pool_too_large(f"more than {cfg.max_rank_images}", cfg)
        fields = _form_fields(form, models.rank_fields, {"images"}, cfg)
        files = form.getlist("images")
        if len(files) < 2:
            raise too_few_images(len(files))
        images = [(f"images[{i}]" + (f" ({echo(f.filename, 40)})" if f.filename else ""), await f.read()) for i, f in enumerate(files)]
        names = [f.filename for f in files]
    return Body(images, fields, names if all(names) and len(set(names)) == len(names) else None)  # else indices
