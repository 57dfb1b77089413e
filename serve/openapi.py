"""OpenAPI request bodies of /v1/compare and /v1/rank (the endpoints parse bodies themselves to give one-line errors)."""

from __future__ import annotations

_TEXT = {"query": {"type": "string", "description": "The shopper's search query (their interest)."},
         "title": {"type": "string", "description": "The product title."}}

COMPARE_BODY = {"requestBody": {"required": True, "content": {
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
