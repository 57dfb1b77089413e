"""An OpenAI-compatible chat endpoint as annotator (a ``vllm serve`` of a large VLM, or a hosted API).

Through the official ``openai`` client (``pip install 'creative4u-small[annotate]'``): both
creatives go as base64 data URLs in one user turn, the key comes from an environment variable,
at most ``concurrency`` requests are in flight, each with a timeout. The client itself retries
408/409/429/5xx and dropped connections with exponential backoff (and honours Retry-After) up
to ``http_retries`` times; when it gives up, or the endpoint refuses a request (400, 401, 403,
404, 422), the run stops with one line saying why, and nothing of the round is written.
"""

from __future__ import annotations

import base64
import io
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from creative4u_small.contract.images import open_image
from creative4u_small.distill.annotate.annotator import Request

RAW_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
RETRIED_STATUSES = (408, 409, 429)


class EndpointStop(RuntimeError):
    """The endpoint refused a request or kept failing; rerun the same command once it is fixed."""


def image_data_url(path: Path) -> str:
    """``data:<mime>;base64,…``: the file's own bytes for PNG/JPEG/WebP without an EXIF rotation, else a PNG of the decoded image."""
    from PIL import Image

    raw = Path(path).read_bytes()
    with Image.open(io.BytesIO(raw)) as im:
        fmt, rotated = im.format, im.getexif().get(0x0112, 1) not in (1, None)
    if fmt in RAW_FORMATS and not rotated:
        mime = RAW_FORMATS[fmt]
    else:
        buf = io.BytesIO()
        open_image(path).save(buf, format="PNG")
        raw, mime = buf.getvalue(), "image/png"
    return f"data:{mime};base64,{base64.b64encode(raw).decode('ascii')}"


def chat_messages(request: Request, urls: dict) -> list[dict]:
    """The request's user turn in the OpenAI chat shape: text parts and ``image_url`` parts in prompt order."""
    images = iter((request.first, request.second))
    content = []
    for item in request.messages()[0]["content"]:
        if item["type"] == "image":
            content.append({"type": "image_url", "image_url": {"url": urls[next(images)]}})
        else:
            content.append({"type": "text", "text": item["text"]})
    return [{"role": "user", "content": content}]


class EndpointAnnotator:
    def __init__(self, config, warn=print):
        try:
            import openai
        except ImportError as e:
            raise ImportError("the endpoint annotator needs the openai client: pip install 'creative4u-small[annotate]'") from e
        self.config, self.url = config, config.annotator.rstrip("/")
        key = os.environ.get(config.api_key_env, "") if config.api_key_env else ""
        if not key:
            warn(f"note: ${config.api_key_env or '(none)'} is not set; calling {self.url} without an API key")
        self._lock, self._counts = threading.Lock(), {"http_retryable_errors": 0, "requests": 0}
        http_client = openai.DefaultHttpxClient(event_hooks={"response": [self._count]})
        self.client = openai.OpenAI(
            base_url=self.url, api_key=key or "EMPTY", timeout=config.timeout,
            max_retries=config.http_retries, http_client=http_client,
        )
        self.model = config.endpoint_model or self._first_model()
        self.name = f"{self.model}@{self.url}"

    def _count(self, response) -> None:
        with self._lock:
            self._counts["requests"] += 1
            if response.status_code in RETRIED_STATUSES or response.status_code >= 500:
                self._counts["http_retryable_errors"] += 1

    def _first_model(self) -> str:
        models = self._call(lambda: self.client.models.list().data, "listing models")
        if not models:
            raise EndpointStop(f"{self.url}/models lists no model; pass --endpoint-model NAME")
        return models[0].id

    def _call(self, fn, what: str):
        import openai

        try:
            return fn()
        except openai.AuthenticationError as e:
            raise EndpointStop(f"{self.url} refused the API key (401) while {what}: set ${self.config.api_key_env} to a valid key (or name another variable with --api-key-env)") from e
        except openai.PermissionDeniedError as e:
            raise EndpointStop(f"{self.url} denied access (403) while {what}: the key lacks access to model {getattr(self, 'model', '?')!r}") from e
        except (openai.BadRequestError, openai.NotFoundError, openai.UnprocessableEntityError) as e:
            raise EndpointStop(f"{self.url} rejected the request ({e.status_code}) while {what}: {_message(e)}; check --endpoint-model and that the model takes two images") from e
        except openai.APITimeoutError as e:
            raise EndpointStop(f"{self.url} timed out after {self.config.timeout:g} s and {self.config.http_retries} retries while {what}; raise --timeout or lower --concurrency, then rerun to resume") from e
        except openai.APIConnectionError as e:
            raise EndpointStop(f"cannot reach {self.url} ({e.__cause__ or e}) after {self.config.http_retries} retries while {what}; check the URL, then rerun to resume") from e
        except openai.APIStatusError as e:
            raise EndpointStop(f"{self.url} kept answering {e.status_code} after {self.config.http_retries} retries while {what}: {_message(e)}; rerun later to resume") from e

    def _one(self, request: Request, urls: dict, seed: int) -> str:
        cfg = self.config
        resp = self._call(lambda: self.client.chat.completions.create(
            model=self.model, messages=chat_messages(request, urls), temperature=cfg.temperature,
            max_completion_tokens=cfg.max_new_tokens, seed=seed,
        ), f"annotating pair {request.pair_id!r} ({request.order})")
        if not resp.choices:
            return ""
        return resp.choices[0].message.content or ""

    def complete(self, requests: list[Request], seed: int) -> list[str]:
        paths = {p for r in requests for p in (r.first, r.second)}
        with ThreadPoolExecutor(max_workers=self.config.concurrency) as pool:
            urls = dict(zip(paths, pool.map(image_data_url, paths)))
            futures = [pool.submit(self._one, r, urls, seed + i) for i, r in enumerate(requests)]
            try:
                return [f.result() for f in futures]
            except BaseException:
                for f in futures:
                    f.cancel()
                raise

    def stats(self) -> dict:
        with self._lock:
            return dict(self._counts)


def _message(error) -> str:
    return " ".join(str(getattr(error, "message", None) or error).split())[:200]
