"""The bodies /v1/compare and /v1/rank take (msgspec Structs) and return (pydantic models, for the OpenAPI document).

A JSON body is decoded straight into its Struct, which stops at the first unknown field, wrong type or
out-of-range number instead of building the whole document; multipart bodies carry the same text fields,
converted from form text by the same Structs. Limits that depend on the server's flags (text length, pool
size, names) are checked after decoding (``bodies.check_fields``), so each refusal names its flag; the
OpenAPI request bodies are generated from the Structs with those limits filled in.
"""

from __future__ import annotations

import copy
from typing import Annotated

import msgspec
from msgspec import Meta
from pydantic import BaseModel, Field

from creative4u_small.contract.protocol import SLOT_HELP
from creative4u_small.serve.limits import MAX_NAME_CHARS
from creative4u_small.serve.serve_config import ServeConfig

_B64 = Annotated[str, Meta(extra_json_schema={"format": "byte", "minLength": 1})]
# A form value is text: booleans are these two words, integers digits (wire-exact, so a generated client
# or a schema-driven tester sees what the server really takes).
_FORM = {"string": {"type": "string"}, "boolean": {"type": "string", "enum": ["true", "false"]},
         "integer": {"type": "string", "pattern": "^[1-9][0-9]{0,8}$"}}


class CompareFields(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    query: Annotated[str, Meta(description=SLOT_HELP["query"])] = ""
    title: Annotated[str, Meta(description=SLOT_HELP["title"])] = ""
    strict: Annotated[bool, Meta(description="Refuse (422) a query or title over the model's token budget instead of truncating it.")] = False
    explain: Annotated[bool, Meta(description="Also decode the rationale.")] = False


class RankFields(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    query: Annotated[str, Meta(description=SLOT_HELP["query"])] = ""
    title: Annotated[str, Meta(description=SLOT_HELP["title"])] = ""
    strict: Annotated[bool, Meta(description="Refuse (422) a query or title over the model's token budget instead of truncating it.")] = False
    # JSON Schema's integers include 8.0: a whole float is taken, a fraction refused after decoding
    top_k: Annotated[int | float, Meta(description="How many to return, best first (all when absent or above the pool's size).")] | None = None


class CompareRequest(CompareFields, kw_only=True):
    image_a: Annotated[_B64, Meta(description="Creative A: base64 of the image file's bytes.")]
    image_b: Annotated[_B64, Meta(description="Creative B: base64 of the image file's bytes.")]


class RankRequest(RankFields, kw_only=True):
    images: Annotated[list[_B64], Meta(description="The pool: base64 of each image file's bytes.")]
    names: Annotated[list[str], Meta(description="A distinct name per image, in the same order (default: the indices).")] | None = None


class RequestModels:
    """The request Structs and their OpenAPI bodies with one server's limits."""

    compare_fields, rank_fields, compare_json, rank_json = CompareFields, RankFields, CompareRequest, RankRequest

    def __init__(self, cfg: ServeConfig):
        self.cfg = cfg

    def openapi(self) -> dict:
        """``openapi_extra`` request bodies of the two endpoints: JSON and multipart, from the same Structs."""
        (compare, rank), components = msgspec.json.schema_components((CompareRequest, RankRequest), ref_template="{name}")
        schemas = {name: components[ref["$ref"]] for name, ref in (("compare", compare), ("rank", rank))}
        for schema in schemas.values():
            schema.pop("title", None)
            for name in ("query", "title"):
                schema["properties"][name]["maxLength"] = self.cfg.max_text_chars
        props = schemas["rank"]["properties"]
        props["images"].update(minItems=2, maxItems=self.cfg.max_rank_images)
        props["names"]["anyOf"][0].update(uniqueItems=True, items={"type": "string", "minLength": 1, "maxLength": MAX_NAME_CHARS})
        props["top_k"]["anyOf"] = [{"type": "integer", "minimum": 1, "description": props["top_k"]["anyOf"][0]["description"]}, {"type": "null"}]
        for prop in props.values():  # an optional field's description beside its anyOf, not inside one branch
            if "anyOf" in prop:
                prop["description"] = prop["anyOf"][0].pop("description")
        return {"compare": _body(schemas["compare"], "image_a", "image_b"), "rank": _body(schemas["rank"], "images")}


def _body(schema: dict, *image_fields: str) -> dict:
    """A requestBody with the JSON schema, and its multipart twin: images as files, text fields as the text a form
    carries, no ``names`` (the files' own names are used)."""
    multipart = {"type": "object", "required": list(schema.get("required", [])), "properties": {}, "additionalProperties": False}
    for name, prop in copy.deepcopy(schema["properties"]).items():
        if name == "names":
            continue
        if "anyOf" in prop:  # a form field is absent or has a value: it cannot be null
            prop = {**{k: v for k, v in prop.items() if k != "anyOf"}, **next(o for o in prop["anyOf"] if o.get("type") != "null")}
        if name in image_fields:
            binary = {"type": "string", "format": "binary"}
            many = prop.get("type") == "array"
            prop = {**prop, "items": binary, "description": "The pool: repeat the file field once per image."} if many else \
                {**binary, "description": prop["description"].replace("base64 of the image file's bytes", "the image file")}
        else:
            kind = prop.pop("type", None)
            prop = {k: v for k, v in prop.items() if k not in ("minimum", "maximum", "default")} | _FORM.get(kind, {})
        multipart["properties"][name] = prop
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema},
                                                            "multipart/form-data": {"schema": multipart}}}}


# ------------------------------------------------------------------ responses


class ErrorBody(BaseModel):
    error: str = Field(description="One line naming the field and the fix.")
    kind: str = Field(description="bad_request, bad_image, too_large, text_too_long, unauthorized, timeout, busy, overloaded, not_ready, internal, ...")
    status: int
    request_id: str = Field(description="Also in the X-Request-ID header; the server log's line for this request carries it.")


class Explanation(BaseModel):
    parsed: bool = Field(description="Whether every line Q1–Q10 parsed; false means only the raw text is usable.")
    verdict: str
    protocol: dict[str, str] | None = Field(description="Question key (Q1–Q10) -> answer: yes/no, A>B / A=B / A<B, or A/B for Q10.")
    q10_matches_verdict: bool | None
    reasoning: str = Field(description="Free reasoning after the protocol lines.")
    error: str | None = Field(description="Why the rationale is unparsed (starts with 'unparsed:').")
    text: str = Field(description="The raw decoded rationale.")


class Truncation(BaseModel):
    tokens: int = Field(description="Tokens the text had.")
    kept: int = Field(description="Tokens the judge saw (the model's budget).")


class CompareResponse(BaseModel):
    winner: str = Field(description="A or B: the creative users will more likely click.")
    p_a: float = Field(description="P(A wins), averaged over both orders.")
    p_a_orders: list[float] = Field(description="P(A wins) shown as (A, B) and as (B, A).")
    consistent: bool = Field(description="Both orders pick the same creative.")
    rationale: str | None
    explanation: Explanation | None
    truncated: dict[str, Truncation] = Field(description="query/title cut to the model's token budget (empty when none was).")
    timings_ms: dict[str, float]
    server: dict[str, float]
    request_id: str


class Comparison(BaseModel):
    a: int
    b: int
    p_a: float
    phase: str


class RankResponse(BaseModel):
    order: list[int] = Field(description="Best first: indices into the pool (names[i] names image i).")
    scores: dict[str, float] = Field(description="Bradley–Terry log-strength per image index.")
    comparisons: list[Comparison]
    strategy: str
    images_encoded: int
    rounds: int
    truncated: dict[str, Truncation]
    timings_ms: dict[str, float]
    names: list[str] | None = Field(description="The images' names: the JSON body's names, or the files' names when distinct; null otherwise.")
    server: dict[str, float]
    request_id: str


def errors(*statuses: int) -> dict:
    """``responses`` entries for each refusal status, all with the error body."""
    what = {400: "Malformed body or field", 401: "Missing or wrong bearer token", 404: "Unknown path", 408: "Body not received in time",
            413: "Body, text, image count or pixels above the server's limits", 415: "Neither multipart/form-data nor JSON",
            422: "Well-formed but unusable: an unreadable image, special tokens in the text, text over the token budget with strict, names that do not match the images",
            500: "Internal error (see the server log for the request id)", 503: "Not ready, or too many requests in progress"}
    return {s: {"model": ErrorBody, "description": what[s]} for s in statuses}
