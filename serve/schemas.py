"""The bodies /v1/compare and /v1/rank take and return, as pydantic models built from the server's limits.

JSON bodies are validated by these models in strict mode (no bool or float where an integer is meant);
multipart bodies carry the same text fields, converted from form text and validated by the same models;
the OpenAPI document is generated from them, so it states what the service really takes and returns.
"""

from __future__ import annotations

import copy
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model, model_validator

from creative4u_small.contract.protocol import SLOT_HELP
from creative4u_small.serve.serve_config import ServeConfig

STRICT = ConfigDict(extra="forbid", strict=True)
MAX_NAME_CHARS = 200
_B64 = Annotated[str, Field(min_length=1, json_schema_extra={"format": "byte"})]


def _whole(value):
    """An integer, or a float with no fraction (JSON Schema's integers include 8.0); never a bool."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be a whole number (not a boolean, a fraction or a string)")
    return value


_Count = Annotated[int, Field(ge=1), BeforeValidator(_whole)]
# A form value is text: booleans are these two words, integers digits (wire-exact, so a generated client
# or a schema-driven tester sees what the server really takes).
_FORM = {"string": {"type": "string"}, "boolean": {"type": "string", "enum": ["true", "false"]},
         "integer": {"type": "string", "pattern": "^[1-9][0-9]{0,8}$"}}


class RequestModels:
    """The request models of one server (their limits come from its ``ServeConfig``)."""

    def __init__(self, cfg: ServeConfig):
        text = Annotated[str, Field(max_length=cfg.max_text_chars)]
        common = {
            "query": (text, Field("", description=SLOT_HELP["query"])),
            "title": (text, Field("", description=SLOT_HELP["title"])),
            "strict": (bool, Field(False, description="Refuse (422) a query or title over the model's token budget instead of truncating it.")),
        }
        self.compare_fields = create_model("CompareFields", __config__=STRICT, **common,
                                           explain=(bool, Field(False, description="Also decode the rationale.")))
        self.rank_fields = create_model("RankFields", __config__=STRICT, **common, top_k=(
            _Count | None, Field(None, description="How many to return, best first (all when absent or above the pool's size).")))
        self.compare_json = create_model("CompareRequest", __base__=self.compare_fields,
                                         image_a=(_B64, Field(description="Creative A: base64 of the image file's bytes.")),
                                         image_b=(_B64, Field(description="Creative B: base64 of the image file's bytes.")))
        self.rank_json = create_model(
            "RankRequest", __base__=self.rank_fields,
            images=(list[_B64], Field(min_length=2, max_length=cfg.max_rank_images, description="The pool: base64 of each image file's bytes.")),
            names=(list[Annotated[str, Field(min_length=1, max_length=MAX_NAME_CHARS)]] | None,
                   Field(None, json_schema_extra={"uniqueItems": True}, description="A distinct name per image, in the same order (default: the indices).")),
            __validators__={"names_match": model_validator(mode="after")(_names_match)},
        )

    def openapi(self) -> dict:
        """``openapi_extra`` request bodies of the two endpoints: JSON and multipart, from the same models."""
        return {"compare": _body(self.compare_json, "image_a", "image_b"), "rank": _body(self.rank_json, "images")}


def _names_match(model):
    if model.names is not None:
        if len(model.names) != len(model.images):
            raise ValueError(f"names: {len(model.names)} names for {len(model.images)} images; give one name per image or none")
        if len(set(model.names)) != len(model.names):
            raise ValueError("names: the names must be distinct")
    return model


def _body(model, *image_fields: str) -> dict:
    """A requestBody with the model's JSON schema, and its multipart twin: images as files, text fields as the
    text a form carries, no ``names`` (the files' own names are used)."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("title", None)
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
