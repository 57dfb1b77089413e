"""Reading and parsing request bodies: paced reads, JSON decoded off the event loop into Structs, multipart with field-named errors.

``read_compare`` / ``read_rank`` return the images' raw bytes (named by field) and the checked text fields;
every refusal is a ``RequestError`` whose reason names the field and the fix, echoing user text at most 80
characters. A JSON body is decoded by msgspec into its Struct on a worker thread: decoding stops at the first
unknown field, wrong type or out-of-range number, so a body of millions of keys costs microseconds. (The decode
and each image's base64 are single C calls holding the GIL: the loop still waits for each of them.)
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import typing
from dataclasses import dataclass

import msgspec
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request

from creative4u_small.contract.protocol import echo
from creative4u_small.serve.limits import MAX_NAME_CHARS, RequestError, body_cap
from creative4u_small.serve.reading import Reader, Readers
from creative4u_small.serve.schemas import RankRequest, RequestModels
from creative4u_small.serve.serve_config import ServeConfig

MULTIPART, JSON = "multipart/form-data", "application/json"
MAX_FORM_FIELDS = 16
_DECODERS: dict[type, msgspec.json.Decoder] = {}


@dataclass
class Body:
    images: list[tuple[str, bytes]]  # (field name for errors, file bytes)
    fields: msgspec.Struct  # the checked text fields (CompareFields / RankFields / their JSON twins)
    names: list[str] | None = None


async def read_body(request: Request, readers: Readers, reader: Reader, cfg: ServeConfig) -> tuple[str, bytearray]:
    """(content type, body) at the reader's pace; 415 for other content types, 400 when empty."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype not in (MULTIPART, JSON):
        raise RequestError(415, "unsupported_media_type", f"content type {echo(ctype) if ctype else '(none)'} is not multipart/form-data or application/json")
    body = await readers.receive(request, reader, body_cap(cfg, request.url.path, ctype))
    if not body:
        raise RequestError(400, "bad_request", "empty request body; send multipart/form-data or application/json")
    return ctype, body


# ------------------------------------------------------------------ JSON


def _decoder(struct: type) -> msgspec.json.Decoder:
    if struct not in _DECODERS:
        _DECODERS[struct] = msgspec.json.Decoder(struct)
    return _DECODERS[struct]


def _strings_at_most(body: bytearray, cfg: ServeConfig) -> None:
    """413 when a rank body holds more quotes than a full pool with names can (every character of its text an escaped
    quote, at most): counted at memchr speed before decoding, as msgspec checks a list's length only once every item
    is built."""
    quotes = 2 * (2 * cfg.max_rank_images + 8) + 2 * cfg.max_text_chars + cfg.max_rank_images * MAX_NAME_CHARS
    if body.count(b'"') > quotes:
        raise RequestError(413, "too_large", f"images: more strings than a pool of {cfg.max_rank_images} images and their names holds; "
                                             "split the pool or raise --max-rank-images")


def _refusal(error: msgspec.MsgspecError) -> RequestError:
    """msgspec's first problem as a one-line refusal naming the field."""
    text = str(error).splitlines()[0]
    if isinstance(error, msgspec.DecodeError) and not isinstance(error, msgspec.ValidationError):
        return RequestError(400, "bad_request", f"body is not valid JSON ({text[:120]})")
    message, _, at = text.partition(" - at `$")
    where = at.rstrip("`").lstrip(".") or "body"
    for prefix, what in (("Object contains unknown field `", "unknown field; see /docs for the fields this endpoint takes"),
                         ("Object missing required field `", "missing; see /docs for the fields this endpoint takes")):
        if message.startswith(prefix):
            return RequestError(400, "bad_request", f"{echo(message[len(prefix):].rstrip('`'), 40)}: {what}")
    return RequestError(400, "bad_request", f"{where}: {message[0].lower()}{message[1:]}")


def decode_json(struct: type, body: bytearray, cfg: ServeConfig) -> msgspec.Struct:
    """``body`` decoded into ``struct`` (JSON, no coercion) and checked against the server's limits."""
    if struct is RankRequest:
        _strings_at_most(body, cfg)
    try:
        fields = _decoder(struct).decode(body)
    except msgspec.MsgspecError as e:
        raise _refusal(e) from None
    check_fields(fields, cfg)
    return fields


def check_fields(fields: msgspec.Struct, cfg: ServeConfig) -> None:
    """The limits no Struct states: text length, a whole ``top_k``, the pool's size, one distinct name per image."""
    for name in ("query", "title"):
        if len(getattr(fields, name)) > cfg.max_text_chars:
            raise RequestError(413, "too_large", f"{name}: {len(getattr(fields, name))} characters, above the server's limit of {cfg.max_text_chars}; "
                                                 "shorten it or raise --max-text-chars")
    top_k = getattr(fields, "top_k", None)
    if top_k is not None:
        if isinstance(top_k, float) and not top_k.is_integer() or top_k < 1:
            raise RequestError(400, "bad_request", "top_k: must be a whole number of at least 1")
        fields.top_k = int(top_k)
    images = getattr(fields, "images", None)
    if images is not None:
        if len(images) > cfg.max_rank_images:
            raise pool_too_large(str(len(images)), cfg)
        if len(images) < 2:
            raise too_few_images(len(images))
    names = getattr(fields, "names", None)
    if names is not None:
        if any(not 1 <= len(n) <= MAX_NAME_CHARS for n in names):
            raise RequestError(400, "bad_request", f"names: each name must be 1 to {MAX_NAME_CHARS} characters")
        if len(names) != len(images):
            raise RequestError(422, "bad_request", f"names: {len(names)} names for {len(images)} images; give one name per image or none")
        if len(set(names)) != len(names):
            raise RequestError(422, "bad_request", "names: the names must be distinct")


def pool_too_large(count: str, cfg: ServeConfig) -> RequestError:
    return RequestError(413, "too_large", f"images: {count} images, above the server's pool limit of {cfg.max_rank_images}; split the pool or raise --max-rank-images")


def too_few_images(n: int) -> RequestError:
    return RequestError(400, "bad_request", f"images: rank needs at least 2 images, got {n}")


def _base64(field: str, text: str) -> bytes:
    if not text:
        raise RequestError(400, "bad_request", f"{field}: empty; encode the image file's bytes")
    if text.startswith("data:") and "," in text:
        text = text.split(",", 1)[1]
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise RequestError(400, "bad_request", f"{field}: not valid base64; encode the image file's bytes") from None


def _json_compare(body: bytearray, cfg: ServeConfig) -> Body:
    req = decode_json(RequestModels.compare_json, body, cfg)
    return Body([("image_a", _base64("image_a", req.image_a)), ("image_b", _base64("image_b", req.image_b))], req)


def _json_rank(body: bytearray, cfg: ServeConfig) -> Body:
    req = decode_json(RequestModels.rank_json, body, cfg)
    return Body([(f"images[{i}]", _base64(f"images[{i}]", x)) for i, x in enumerate(req.images)], req, req.names)


# ------------------------------------------------------------------ multipart


def _types(annotation) -> set:
    """The plain types an annotation admits (through Annotated, unions and Optional)."""
    if typing.get_origin(annotation) is typing.Annotated:
        return _types(typing.get_args(annotation)[0])
    args = typing.get_args(annotation)
    return set().union(*map(_types, args)) if args and typing.get_origin(annotation) not in (list, dict) else {annotation}


def _form_value(field: str, text: str, annotation):
    """Form text as the type the Struct wants: booleans as true or false, integers as digits only."""
    wanted = _types(annotation)
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


def _form_fields(form, model: type[msgspec.Struct], files: set[str], cfg: ServeConfig) -> msgspec.Struct:
    types = {f.name: f.type for f in msgspec.structs.fields(model)}
    data = {}
    for key, value in form.multi_items():
        if key in files:
            if not isinstance(value, UploadFile):
                raise RequestError(400, "bad_request", f"{key}: sent as a text field; send the image as a file (images are never read from URLs or server paths)")
            continue
        if isinstance(value, UploadFile):
            raise RequestError(400, "bad_request", f"{echo(key, 40)}: a file where none is taken; files go in {' or '.join(sorted(files))}")
        if key not in types:
            raise RequestError(400, "bad_request", f"{echo(key, 40)}: unknown field; see /docs for the fields this endpoint takes")
        if key in data:
            raise RequestError(400, "bad_request", f"{key}: sent twice")
        data[key] = _form_value(key, value, types[key])
    try:
        fields = msgspec.convert(data, model, strict=True)
    except msgspec.ValidationError as e:
        raise _refusal(e) from None
    check_fields(fields, cfg)
    return fields


# ------------------------------------------------------------------ the two bodies


async def read_compare(request: Request, readers: Readers, reader: Reader, cfg: ServeConfig) -> Body:
    ctype, raw = await read_body(request, readers, reader, cfg)
    if ctype == JSON:
        return await asyncio.to_thread(_json_compare, raw, cfg)
    request._body = bytes(raw)  # Starlette's form parser reads the body from here
    del raw
    async with _form(request, max_files=2) as form:
        if form is None:
            raise RequestError(400, "bad_request", "compare takes exactly two files, image_a and image_b; send no other files")
        fields = _form_fields(form, RequestModels.compare_fields, {"image_a", "image_b"}, cfg)
        images = []
        for name in ("image_a", "image_b"):
            value = form.get(name)
            if value is None:
                raise RequestError(400, "bad_request", f"{name}: missing file field; send it as a multipart file")
            images.append((name, await value.read()))
    return Body(images, fields)


async def read_rank(request: Request, readers: Readers, reader: Reader, cfg: ServeConfig) -> Body:
    ctype, raw = await read_body(request, readers, reader, cfg)
    if ctype == JSON:
        return await asyncio.to_thread(_json_rank, raw, cfg)
    request._body = bytes(raw)
    del raw
    async with _form(request, max_files=cfg.max_rank_images) as form:
        if form is None:
            raise pool_too_large(f"more than {cfg.max_rank_images}", cfg)
        fields = _form_fields(form, RequestModels.rank_fields, {"images"}, cfg)
        files = form.getlist("images")
        if len(files) < 2:
            raise too_few_images(len(files))
        images = [(f"images[{i}]" + (f" ({echo(f.filename, 40)})" if f.filename else ""), await f.read()) for i, f in enumerate(files)]
        names = [f.filename for f in files]
    return Body(images, fields, names if all(names) and len(set(names)) == len(names) else None)  # else indices
