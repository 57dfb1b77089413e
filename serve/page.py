"""The page for creative teams at ``/``: plain HTML, CSS and JavaScript shipped in the package (no build, no CDN).

The page calls the public endpoints only (/readyz, /v1/model, /v1/rank, /v1/compare), like any other client.
It and its assets are sent with a Content-Security-Policy that allows scripts, styles and requests from this
origin alone (no inline script), images from this origin and from ``blob:`` (the thumbnails of the files a user
picked, never uploaded anywhere else), and no framing. ``--no-ui`` leaves it out.
"""

from __future__ import annotations

import html
import json
from importlib import resources

from fastapi import FastAPI
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from creative4u_small.contract.protocol import QUESTIONS, SLOT_HELP, echo

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
           "X-Frame-Options": "DENY", "Cache-Control": "no-cache"}
ASSETS = {"page.css": "text/css; charset=utf-8", "page.js": "text/javascript; charset=utf-8",
          "api.js": "text/javascript; charset=utf-8", "explain.js": "text/javascript; charset=utf-8",
          "icon.svg": "image/svg+xml"}
PROTOCOL_SLOT = "{{protocol}}"
TEXT_SLOTS = {"{{query_help}}": SLOT_HELP["query"], "{{title_help}}": SLOT_HELP["title"]}


def _static(name: str) -> bytes:
    return (resources.files("creative4u_small.serve") / "static" / name).read_bytes()


def index_html() -> bytes:
    """index.html with the protocol's questions (a data attribute, read by explain.js) and the fields' help filled in."""
    questions = [{"key": q.key, "label": q.label} for q in QUESTIONS]
    text = _static("index.html").decode().replace(PROTOCOL_SLOT, html.escape(json.dumps(questions), quote=True))
    for slot, value in TEXT_SLOTS.items():
        text = text.replace(slot, html.escape(value))
    return text.encode()


def mount_page(app: FastAPI) -> None:
    """``GET /`` (the page) and ``GET /ui/<asset>``, left out of the OpenAPI document: they are not part of the API."""
    page = index_html()
    assets = {name: _static(name) for name in ASSETS}

    def index() -> Response:
        return Response(page, media_type="text/html; charset=utf-8", headers=HEADERS)

    def asset(name: str) -> Response:
        if name not in assets:
            raise StarletteHTTPException(404, f"no such file of the page: {echo(name)}")
        return Response(assets[name], media_type=ASSETS[name], headers=HEADERS)

    app.add_api_route("/", index, methods=["GET", "HEAD"], include_in_schema=False)
    app.add_api_route("/ui/{name}", asset, methods=["GET", "HEAD"], include_in_schema=False)
