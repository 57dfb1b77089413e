"""Groups of creatives to answer, read from JSONL or Parquet: ``{id, query, title, images, top_k?}`` rows, or
CreativePair rows (``image_a``, ``image_b``) as groups of two.

A file that cannot be read as a whole (not JSON on a line, no id, an id twice) is refused before anything is
written, naming the line. A row whose fields are wrong is refused on its own: it goes to the rejects file with
its reason and the job goes on. Image paths are resolved against the file's folder (a URI's too); absolute paths
and URIs (``s3://``, ``gs://``, ``hdfs://``, ``file://``) are kept as they are: the workers read them.
"""

from __future__ import annotations

import json
import posixpath
from pathlib import Path

from creative4u_small.scale.row_writer import is_parquet, pyarrow_modules

URI_MARK = "://"


def is_uri(path: str) -> bool:
    return URI_MARK in str(path)


def uri_file(uri: str):
    """(pyarrow filesystem, path inside it) of a URI: local, s3, gcs, hdfs, ... as pyarrow reads them."""
    pyarrow_modules()
    from pyarrow import fs

    try:
        return fs.FileSystem.from_uri(uri)
    except Exception as e:  # noqa: BLE001 - pyarrow raises ArrowInvalid / OSError for an unknown or unreachable scheme
        raise FileNotFoundError(f"{uri}: pyarrow cannot open this URI ({str(e).splitlines()[0]})") from None


def _read_bytes(path: str) -> bytes:
    if not is_uri(path):
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"{path}: no such groups file")
        return p.read_bytes()
    fs, inner = uri_file(path)
    with fs.open_input_stream(inner) as fh:
        return fh.read()


def _raw_rows(path: str) -> list[tuple[str, object]]:
    """(where, parsed row) per line of a JSONL file or row of a Parquet file; blank lines skipped."""
    if is_parquet(path):
        pa, pq = pyarrow_modules()
        try:
            table = pq.read_table(pa.BufferReader(_read_bytes(path)))
        except pa.ArrowException as e:
            raise ValueError(f"{path}: not a readable Parquet file ({str(e).splitlines()[0]})") from None
        return [(f"row {i}", row) for i, row in enumerate(table.to_pylist(), 1)]
    rows = []
    for lineno, line in enumerate(_read_bytes(path).decode("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append((f"line {lineno}", json.loads(line)))
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: line {lineno} is not valid JSON ({e.msg}); fix or remove it") from None
    return rows


def resolve(image: str, base: str) -> str:
    """``image`` relative to the groups file's folder ``base``; absolute paths and URIs as they are."""
    if is_uri(image) or Path(image).is_absolute():
        return image
    return posixpath.join(base, image) if is_uri(base) else str(Path(base) / image)


def _problem(row: dict) -> str | None:
    """What is wrong with a row's fields (the reject reason), or None."""
    images = row.get("images")
    if not isinstance(images, list) or not all(isinstance(i, str) and i for i in images):
        return "images must be a list of image paths"
    if len(images) < 2:
        return f"a group needs at least 2 images, got {len(images)}"
    for slot in ("query", "title"):
        if not isinstance(row.get(slot) or "", str):
            return f"{slot} must be text"
    top_k = row.get("top_k")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        return f"top_k must be a whole number of at least 1, got {top_k!r}"
    return None


def read_groups(path: str) -> tuple[list[dict], list[dict]]:
    """(groups, refused rows) of the file at ``path``; groups are ``{id, query, title, images, top_k}`` with
    resolved image paths, refused rows ``{id, reason, where}``."""
    base = posixpath.dirname(path) if is_uri(path) else str(Path(path).resolve().parent)
    groups, refused, seen = [], [], {}
    for where, row in _raw_rows(path):
        if not isinstance(row, dict) or row.get("id") in (None, ""):
            raise ValueError(f"{path}: {where} has no id; every group needs a unique id (rows are resumed by id)")
        gid = str(row["id"])
        if gid in seen:
            raise ValueError(f"{path}: {where} repeats the id {gid!r} of {seen[gid]}; ids must be unique")
        seen[gid] = where
        if "images" not in row and "image_a" in row:
            row = {**row, "images": [row.get("image_a"), row.get("image_b")]}
        reason = _problem(row)
        if reason:
            refused.append({"id": gid, "reason": f"{where}: {reason}", "where": where})
            continue
        groups.append({"id": gid, "query": row.get("query") or "", "title": row.get("title") or "",
                       "images": [resolve(i, base) for i in row["images"]], "top_k": row.get("top_k")})
    return groups, refused
