"""An OpenAI-compatible chat server for the annotate tests, run as a real process on 127.0.0.1.

It answers ``POST /v1/chat/completions`` from the synthetic renderer's known rationale for the
pair whose two images arrive as base64 data URLs (looked up by decoded pixels, so the order the
images come in decides the frame of the answer), or, with ``--model-dir``, from a real local
model that generates from the received text and images; and ``GET /v1/models``. A JSON script can make
a pair's requests fail in turn (``429``, ``500``, ``400``, ``401``), answer malformed text, or
answer for the wrong creative; ``--key`` makes every request without that bearer key a 401.
Every request is logged as one JSON line (pair, order, the winner the prompt hinted, action,
the client's retry count) for the tests to check.

    python openai_compatible_server.py --pairs pairs.jsonl --port-file port.txt [--script s.json]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from PIL import Image

from creative4u_small.contract import protocol
from creative4u_small.contract.pairs import load_pairs

HINT_RE = re.compile(r"clicked Creative ([AB]) more often")


def pixel_key(data: bytes) -> str:
    with Image.open(io.BytesIO(data)) as im:
        rgb = im.convert("RGB")
        return hashlib.sha256(f"{rgb.size}".encode() + rgb.tobytes()).hexdigest()


class State:
    def __init__(self, args):
        self.pairs = {p.id: p for p in load_pairs(Path(args.pairs))}
        self.by_image = {}
        for p in self.pairs.values():
            for side, path in (("a", p.image_a), ("b", p.image_b)):
                self.by_image[pixel_key(Path(path).read_bytes())] = (p.id, side)
        self.script = json.loads(Path(args.script).read_text()) if args.script else {}
        self.used: dict[str, int] = {}
        self.lock = threading.Lock()
        self.args = args
        self.generator = None
        if args.model_dir:
            from creative4u_small.modeling.checkpoint import load_model

            self.model, self.processor, _ = load_model(args.model_dir)

    @staticmethod
    def messages(content: list[dict]) -> list[dict]:
        """The received user turn in the transformers chat shape (an image placeholder per image)."""
        return [{"role": "user", "content": [
            {"type": "image"} if c["type"] == "image_url" else {"type": "text", "text": c["text"]} for c in content
        ]}]

    def rendered_prompt_sha(self, content: list[dict]) -> str:
        from creative4u_small.modeling.judge_prompt import chat_text

        return hashlib.sha256(chat_text(self.processor, self.messages(content)).encode()).hexdigest()

    def generate(self, content: list[dict], images: list[bytes], body: dict) -> str:
        """The local model's completion of the received user turn (images in the order received)."""
        from creative4u_small.distill.sampling import TransformersGenerator

        messages = self.messages(content)
        with self.lock:
            gen = TransformersGenerator(self.model, self.processor, 1, float(body.get("temperature") or 0.0), int(body.get("max_completion_tokens") or 64))
            return gen.generate([(images[0], images[1], "", "")], int(body.get("seed") or 0), messages=[messages])[0][0]

    def action(self, pid: str) -> str:
        """The next scripted action for this pair: its list in turn, then ``then`` (default "ok")."""
        entry = self.script.get(pid) or {}
        with self.lock:
            n = self.used.get(pid, 0)
            self.used[pid] = n + 1
        actions = entry.get("actions", [])
        return actions[n] if n < len(actions) else entry.get("then", "ok")

    def log(self, row: dict) -> None:
        if self.args.log:
            with self.lock, open(self.args.log, "a") as fh:
                fh.write(json.dumps(row) + "\n")


def make_handler(state: State):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):  # quiet
            pass

        def _send(self, status: int, body: dict, headers: dict | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, message: str, kind: str, headers=None) -> None:
            self._send(status, {"error": {"message": message, "type": kind, "code": status}}, headers)

        def _authorised(self) -> bool:
            if state.args.key and self.headers.get("Authorization") != f"Bearer {state.args.key}":
                self._error(401, "Incorrect API key provided.", "invalid_request_error")
                return False
            return True

        def do_GET(self):
            if self.path.rstrip("/") != "/v1/models":
                return self._error(404, f"no route {self.path}", "not_found")
            if self._authorised():
                self._send(200, {"object": "list", "data": [{"id": state.args.model, "object": "model", "owned_by": "test"}]})

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            if self.path.rstrip("/") != "/v1/chat/completions":
                return self._error(404, f"no route {self.path}", "not_found")
            if not self._authorised():
                return
            content = body["messages"][0]["content"]
            images = [base64.b64decode(c["image_url"]["url"].split(",", 1)[1]) for c in content if c["type"] == "image_url"]
            text = "".join(c.get("text", "") for c in content if c["type"] == "text")
            found = [state.by_image.get(pixel_key(b)) for b in images]
            if len(found) != 2 or None in found or found[0][0] != found[1][0]:
                return self._error(400, "expected the two images of one known pair", "invalid_request_error")
            pid, order = found[0][0], "AB" if found[0][1] == "a" else "BA"
            hint = HINT_RE.search(text)
            action = state.action(pid)
            state.log({
                "pair": pid, "order": order, "action": action, "hint": hint.group(1) if hint else None,
                "model": body.get("model"), "retry": self.headers.get("x-stainless-retry-count"),
                "seed": body.get("seed"), "max_completion_tokens": body.get("max_completion_tokens"),
                "prompt_sha": state.rendered_prompt_sha(content) if state.args.model_dir else None,
            })
            if state.args.delay:
                time.sleep(state.args.delay)
            if action in ("429", "500", "400", "401"):
                kinds = {"429": "rate_limit_exceeded", "500": "server_error", "400": "invalid_request_error", "401": "invalid_request_error"}
                headers = {"retry-after": "0"} if action == "429" else None
                return self._error(int(action), f"scripted {action}", kinds[action], headers)
            rationale = state.pairs[pid].rationale
            if state.args.model_dir:
                rationale = state.generate(content, images, body)
            elif order == "BA":
                rationale = protocol.swap_teacher_completion(rationale)
            if action == "malformed":
                rationale = "The first creative looks better. <answer>" + rationale[-10:]
            elif action == "wrong":
                rationale = protocol.swap_teacher_completion(rationale)  # the other creative's case
            self._send(200, {
                "id": f"chatcmpl-{pid}-{order}", "object": "chat.completion", "created": int(time.time()),
                "model": body.get("model"),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": rationale}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            })

    return Handler


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--script", default="")
    ap.add_argument("--log", default="")
    ap.add_argument("--key", default="")
    ap.add_argument("--model", default="test-vlm")
    ap.add_argument("--delay", type=float, default=0.0)
    ap.add_argument("--model-dir", default="", help="answer with this local model instead of the known rationale")
    args = ap.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(State(args)))
    tmp = Path(args.port_file + ".tmp")
    tmp.write_text(str(server.server_address[1]))
    tmp.replace(args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
