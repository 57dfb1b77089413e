"""OpenAPI request bodies of /v1/compare and /v1/rank (the endpoints parse bodies themselves to give one-line errors)."""

from __future__ import annotations

_TEXT = {"query": {"type": "string", "description": "The shopper's search query (their interest)."},
         "title": {"type": "string", "description": "The product title."}}

EXPLANATION = {"type": "object", "nullable": True, "description": "The rationale parsed into the protocol (null unless explain was asked).", "properties": {
    "parsed": {"type": "boolean", "description": "Whether every line Q1–Q10 parsed; false means only the raw text is usable."},
    "verdict": {"type": "string", "enum": ["A", "B"]},
    "protocol": {"type": "object", "nullable": True, "description": "Question key (Q1–Q10) -> answer: yes/no, A>B / A=B / A<B, or A/B for Q10.",
                 "additionalProperties": {"type": "string"}},
    "q10_matches_verdict": {"type": "boolean", "nullable": True},
    "reasoning": {"type": "string", "description": "Free reasoning after the protocol lines."},
    "error": {"type": "string", "nullable": True, "description": "Why the rationale is unparsed (starts with 'unparsed:')."},
    "text": {"type": "string", "description": "The raw decoded rationale."}}}

COMPARE_RESPONSE = {"200": {"description": "The verdict (and, when asked, the rationale and its parsed protocol).", "content": {
    "application/json": {"schema": {"type": "object", "properties": {
        "winner": {"type": "string", "enum": ["A", "B"]}, "p_a": {"type": "number"},
        "p_a_orders": {"type": "array", "items": {"type": "number"}}, "consistent": {"type": "boolean"},
        "rationale": {"type": "string", "nullable": True}, "explanation": EXPLANATION,
        "timings_ms": {"type": "object"}, "server": {"type": "object"}, "request_id": {"type": "string"}}}}}}}

COMPARE_BODY = {"responses": COMPARE_RESPONSE, "requestBody": {"required": True, "content": {
    "multipart/form-data": {"schema": {"type": "object", "required": ["image_a", "image_b"], "properties": {
        "image_a": {"type": "string", "format": "binary", "description": "Creative A (image file bytes)."},
        "image_b": {"type": "string", "format": "binary", "description": "Creative B (image file bytes)."},
        **_TEXT, "explain": {"type": "boolean", "description": "Also decode the rationale."}}}},
    "application/json": {"schema": {"type": "object", "required": ["image_a", "image_b"], "properties": {
        "image_a": {"type": "string", "format": "byte", "description": "Creative A, base64 of the file bytes."},
        "image_b": {"type": "string", "format": "byte", "description": "Creative B, base64 of the file bytes."},
        **_TEXT, "explain": {"type": "boolean"}}}},
}}}

RANK_BODY = {"requestBody": {"required": True, "content": {
    "multipart/form-data": {"schema": {"type": "object", "required": ["images"], "properties": {
        "images": {"type": "array", "items": {"type": "string", "format": "binary"}, "description": "The pool: repeat the file field once per image."},
        **_TEXT, "top_k": {"type": "integer", "minimum": 1, "description": "How many to return, best first (all when absent)."}}}},
    "application/json": {"schema": {"type": "object", "required": ["images"], "properties": {
        "images": {"type": "array", "items": {"type": "string", "format": "byte"}},
        "names": {"type": "array", "items": {"type": "string"}}, **_TEXT, "top_k": {"type": "integer", "minimum": 1}}}},
}}}
