"""One worker's model copy: a ``Selector`` loaded once, answering groups exactly as a single process would.

Each group is one ``Selector.rank`` call on its images (a pair is a round robin of one game in both orders, so its
``p_a`` is ``Selector.compare``'s); nothing is shared between groups but the embedding cache, keyed by image content.
Dynamic INT8 graphs run one pair per call, so an answer never depends on what else a worker is doing.

The worker reads the images itself: local paths, or URIs through pyarrow's filesystems. A group whose image is
missing, unreadable or over a limit, or whose text is over the budget with ``strict_text``, becomes a reject
record with its reason; the job goes on.
"""

from __future__ import annotations

import time
from pathlib import Path

from creative4u_small.batch.batch_config import BatchConfig
from creative4u_small.batch.groups import is_uri, uri_file
from creative4u_small.contract.images import ImageError
from creative4u_small.runtime.selector import Selector
from creative4u_small.runtime.tokenize import TextBudgetError

REFUSALS = (ImageError, TextBudgetError)


def output_schema():
    """The Parquet schema of an output row (JSONL rows leave out the fields a group does not have)."""
    import pyarrow as pa

    return pa.schema([("id", pa.string()), ("ranking", pa.list_(pa.int64())), ("scores", pa.list_(pa.float64())),
                      ("winner", pa.string()), ("p_a", pa.float64()), ("rationale", pa.string()),
                      ("rationale_pair", pa.list_(pa.int64())), ("truncated", pa.list_(pa.string()))])


class GroupScorer:
    """``score(groups)`` -> records ``{"id", "kind": "row" | "reject", "data", "seconds"}``, one per group."""

    def __init__(self, config: BatchConfig):
        self.config = config
        self.selector = Selector.load(config.export, config=config.selector)
        self.max_bytes = int(config.max_image_mb * 1024 * 1024)

    def score(self, groups: list[dict]) -> list[dict]:
        records = []
        for g in groups:
            t0 = time.perf_counter()
            try:
                kind, data = "row", self.answer(g)
            except REFUSALS as e:
                kind, data = "reject", {"id": g["id"], "reason": str(e).strip().splitlines()[0]}
            records.append({"id": g["id"], "kind": kind, "data": data, "seconds": time.perf_counter() - t0})
        return records

    def answer(self, group: dict) -> dict:
        """The output row of one group: ranking and scores; winner and p_a for a pair; the rationale if asked."""
        sel = self.selector
        frames = [self.frame(src, k) for k, src in enumerate(group["images"])]
        query, title = group["query"], group["title"]
        sel.prompt(query, title)  # a text over its budget is refused here (strict_text) before any image is encoded
        r = sel.rank(frames, query=query, title=title, top_k=group.get("top_k"))
        row = {"id": group["id"], "ranking": list(r.order), "scores": list(r.scores)}
        if len(frames) == 2:
            c = r.comparisons[0]
            p_a = c.p_i if c.i == 0 else 1.0 - c.p_i
            row.update(winner="A" if p_a >= 0.5 else "B", p_a=p_a)
        if self.config.explain:
            best, runner_up = sorted(range(len(frames)), key=lambda k: (-r.scores[k], k))[:2]
            pair = (0, 1) if len(frames) == 2 else (best, runner_up)
            row["rationale"] = sel.compare(frames[pair[0]], frames[pair[1]], query, title, explain=True).rationale
            row["rationale_pair"] = list(pair)
        if r.truncated:
            row["truncated"] = sorted(r.truncated)
        return row

    def frame(self, src: str, index: int):
        """Image ``index`` of a group, read and preprocessed here (a path, or a URI through pyarrow)."""
        try:
            return self._uri_frame(src) if is_uri(src) else self._path_frame(src)
        except ImageError as e:
            raise ImageError(f"images[{index}] {e}") from None

    def _path_frame(self, src: str):
        path = Path(src)
        try:
            if not path.is_file():
                raise ImageError(f"{src}: image file not found")
            self._check_size(src, path.stat().st_size)
            return self.selector.frame(path, "--max-pixels")
        except OSError as e:
            raise ImageError(f"{src}: unreadable ({e.strerror or e})") from None

    def _uri_frame(self, uri: str):
        from pyarrow import fs

        try:
            filesystem, inner = uri_file(uri)
            info = filesystem.get_file_info(inner)
            if info.type != fs.FileType.File:
                raise ImageError(f"{uri}: image file not found")
            self._check_size(uri, info.size)
            with filesystem.open_input_file(inner) as fh:
                data = fh.readall()
        except OSError as e:
            raise ImageError(f"{uri}: unreadable ({str(e).splitlines()[0]})") from None
        try:
            return self.selector.frame(data, "--max-pixels")
        except ImageError as e:
            raise ImageError(str(e).replace("<bytes>", uri, 1)) from None

    def _check_size(self, src: str, size: int) -> None:
        if size > self.max_bytes:
            raise ImageError(f"{src}: {size / 2**20:.1f} MiB, above the limit of {self.config.max_image_mb:g} MiB; "
                             "shrink it or raise --max-image-mb")
