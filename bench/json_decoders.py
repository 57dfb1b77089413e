"""JSON request bodies decoded by msgspec Structs, pydantic's ``model_validate_json`` and what `c4u serve` runs
(`json_decoders.py`), each case in a fresh process so its peak RSS above the process's own baseline is the decoder's.

No postponed annotations here: the request models are declared with local aliases that pydantic and msgspec
resolve when the classes are made."""

import base64
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Annotated

from creative4u_small.bench.abuse_wire import empty_objects
from creative4u_small.bench.script_args import require_subset
from creative4u_small.contract.cpu_info import cpu_info
from creative4u_small.contract.settings import setting

DECODERS = ("msgspec", "pydantic", "server")  # side by side, each in its own process

MAX_TEXT, MAX_IMAGES = 2000, 64


def _image(n: int) -> str:
    return base64.b64encode(os.urandom(n)).decode()


# name -> (endpoint, make the body); the models below are defined without postponed annotations (local aliases)
CASES = {
    "compare_2x1MB_valid": ("compare", lambda: json.dumps({"image_a": _image(750_000), "image_b": _image(750_000), "query": "q" * 2000}).encode()),
    "rank_16x350KB_valid": ("rank", lambda: json.dumps({"images": [_image(262_000)] * 16, "names": [f"n{i}" for i in range(16)], "top_k": 3}).encode()),
    "empty_objects_31MB": ("compare", lambda: empty_objects(31)),
    "empty_objects_3MB": ("compare", lambda: empty_objects(3)),
    "strings_array_31MB": ("rank", lambda: b'{"images": [' + b'"ab",' * 6_000_000 + b'"ab"]}'),
    "number_5000_digits": ("rank", lambda: b'{"images": ["AA==", "AA=="], "top_k": ' + b"9" * 5000 + b"}"),
}


def pydantic_models():
    from pydantic import BaseModel, ConfigDict, Field

    Text = Annotated[str, Field(max_length=MAX_TEXT)]
    B64 = Annotated[str, Field(min_length=1)]

    class Compare(BaseModel):
        model_config = ConfigDict(extra="forbid", strict=True)
        image_a: B64
        image_b: B64
        query: Text = ""
        title: Text = ""
        strict: bool = False
        explain: bool = False

    class Rank(BaseModel):
        model_config = ConfigDict(extra="forbid", strict=True)
        images: Annotated[list[B64], Field(min_length=2, max_length=MAX_IMAGES)]
        names: list[Annotated[str, Field(min_length=1, max_length=200)]] | None = None
        query: Text = ""
        title: Text = ""
        strict: bool = False
        top_k: Annotated[int, Field(ge=1)] | None = None

    return {"compare": lambda b: Compare.model_validate_json(b), "rank": lambda b: Rank.model_validate_json(b)}


def msgspec_models():
    import msgspec
    from msgspec import Meta

    Text = Annotated[str, Meta(max_length=MAX_TEXT)]
    B64 = Annotated[str, Meta(min_length=1)]

    class Compare(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
        image_a: B64
        image_b: B64
        query: Text = ""
        title: Text = ""
        strict: bool = False
        explain: bool = False

    class Rank(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
        images: Annotated[list[B64], Meta(min_length=2, max_length=MAX_IMAGES)]
        names: list[Annotated[str, Meta(min_length=1, max_length=200)]] | None = None
        query: Text = ""
        title: Text = ""
        strict: bool = False
        top_k: Annotated[int, Meta(ge=1)] | None = None

    decoders = {"compare": msgspec.json.Decoder(Compare), "rank": msgspec.json.Decoder(Rank)}
    return {k: d.decode for k, d in decoders.items()}


def server_decoders():
    """What `c4u serve` runs on a JSON body: its Structs, the string count before a rank body, the server's limits."""
    from creative4u_small.serve.bodies import decode_json
    from creative4u_small.serve.schemas import CompareRequest, RankRequest
    from creative4u_small.serve.serve_config import ServeConfig

    cfg = ServeConfig(max_rank_images=MAX_IMAGES, max_text_chars=MAX_TEXT)
    return {"compare": lambda b: decode_json(CompareRequest, b, cfg), "rank": lambda b: decode_json(RankRequest, b, cfg)}


def one(decoder: str, case: str, repeats: int) -> dict:
    """In a process of its own: decode ``case`` ``repeats`` times; seconds and peak RSS above the process's baseline."""
    endpoint, make = CASES[case]
    body = make()
    decode = {"msgspec": msgspec_models, "pydantic": pydantic_models, "server": server_decoders}[decoder]()[endpoint]
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times, outcome = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        try:
            decode(body)
            outcome = "accepted"
        except Exception as e:  # noqa: BLE001 - the refusal is the outcome
            outcome = f"{type(e).__name__}: {str(e).splitlines()[0][:90]}"
        times.append(time.perf_counter() - t0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"decoder": decoder, "case": case, "body_mb": round(len(body) / 1e6, 2), "median_ms": round(statistics.median(times) * 1000, 3),
            "peak_rss_above_baseline_mb": round((peak - base) / 1024, 1), "outcome": outcome}


@dataclass(frozen=True)
class JsonDecodersConfig:
    repeats: int = setting(5, "Timed decodes per case and decoder (the median is reported).")
    cases: tuple[str, ...] = setting(tuple(CASES), f"Bodies to decode, of: {', '.join(CASES)}.")

    def __post_init__(self):
        if self.repeats < 1:
            raise ValueError(f"repeats must be at least 1, got {self.repeats}")
        require_subset("cases", self.cases, CASES)


def json_decoders(cfg: JsonDecodersConfig) -> dict:
    """Every case through every decoder, each in a fresh process (this module run as a program); a line per row."""
    import msgspec
    import pydantic

    rows = []
    for case in cfg.cases:
        for decoder in DECODERS:
            out = subprocess.run([sys.executable, "-m", __name__, decoder, case, str(cfg.repeats)], capture_output=True, text=True, check=True)
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(json.dumps(rows[-1]), flush=True)
    return {"machine": cpu_info(), "versions": {"msgspec": msgspec.__version__, "pydantic": pydantic.__version__}, "rows": rows}


if __name__ == "__main__":  # one row's process: python -m creative4u_small.bench.json_decoders DECODER CASE REPEATS
    print(json.dumps(one(sys.argv[1], sys.argv[2], int(sys.argv[3]))))
