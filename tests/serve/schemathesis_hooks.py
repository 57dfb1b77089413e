"""Schemathesis hook: a multipart "negative" case that is valid on the wire is not negative.

A form carries text. Schemathesis mutates a multipart string field into an object, a number or a list
and sends its JSON text (an empty list or object sends no part at all), which is often a valid query,
title or absent field; the server rightly accepts it, and Schemathesis would call that accepting
schema-violating data. Such a failure is dropped only when the text fields as sent satisfy the multipart
schema (files, unknown fields and repeated parts are left to the check).
"""

from __future__ import annotations

import json

import jsonschema_rs
import schemathesis

MULTIPART = "multipart/form-data"
_REPEATED = object()


def _sent(value):
    """The text a multipart encoder sends for ``value``: None for no part, _REPEATED for several parts."""
    if isinstance(value, (list, dict)) and not value:
        return None
    if isinstance(value, list):
        return _sent(value[0]) if len(value) == 1 else _REPEATED
    return value if isinstance(value, str) else json.dumps(value)


@schemathesis.hook
def filter_failure(context, failure, case, response) -> bool:
    if getattr(failure, "code", "") != "ST201" or not (case.media_type or "").startswith(MULTIPART) or not isinstance(case.body, dict):
        return True
    props = case.operation.definition.raw["requestBody"]["content"][MULTIPART]["schema"]["properties"]
    if set(case.body) - set(props):
        return True
    sent = {k: _sent(v) for k, v in case.body.items() if props[k].get("format") != "binary" and "items" not in props[k]}
    if _REPEATED in sent.values():
        return True
    text = {k: v for k, v in sent.items() if v is not None}
    return not jsonschema_rs.Draft202012Validator({"type": "object", "properties": {k: props[k] for k in text}}).is_valid(text)
