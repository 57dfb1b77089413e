"""CreativePair JSONL: typed records, a strict loader, and line-by-line validation.

One pair per line; image paths are relative to the file's folder (absolute paths allowed).
Loaders never skip a bad line: they report every problem with its line number and fail.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from creative4u_small.contract.protocol import VERDICTS


@dataclass(frozen=True)
class TeacherLabel:
    p_a: float
    verdict: str
    rationales: list[str] = field(default_factory=list)
    model: str = ""
    p_a_orders: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class CreativePair:
    id: str
    image_a: Path
    image_b: Path
    query: str = ""
    title: str = ""
    label: str | None = None
    ctr_a: float | None = None
    ctr_b: float | None = None
    impressions_a: int | None = None
    impressions_b: int | None = None
    rationale: str | None = None
    teacher: TeacherLabel | None = None
    synthetic: bool = False
    extra: dict = field(default_factory=dict)

    def to_json(self, base: Path | None = None) -> dict:
        """The JSONL form; image paths are written relative to ``base``, the folder of the file being written."""
        out = {k: v for k, v in asdict(self).items() if k not in ("extra", "teacher")}
        for k in ("image_a", "image_b"):
            out[k] = _relative(getattr(self, k), base)
        if self.teacher is not None:
            out["teacher"] = asdict(self.teacher)
        out.update(self.extra)
        return {k: v for k, v in out.items() if v is not None}


@dataclass(frozen=True)
class Problem:
    path: Path
    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.field}: {self.reason}"


class PairsError(ValueError):
    """Bad lines in a pairs file; ``problems`` lists every one."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        head = str(problems[0])
        more = f" (and {len(problems) - 1} more problems; run `c4u data validate` for all)" if len(problems) > 1 else ""
        super().__init__(head + more)


_KNOWN = {f for f in CreativePair.__dataclass_fields__} - {"extra"}


def _relative(path: Path, base: Path | None) -> str:
    """``path`` as the file in ``base`` should name it: relative to ``base`` (``..`` where it must), so the file
    reads the same from any working directory; absolute only where no relative path exists (another drive)."""
    if base is None:
        return str(path)
    target = Path(path).resolve()
    try:
        return os.path.relpath(target, Path(base).resolve())
    except ValueError:
        return str(target)


def _number(rec: dict, key: str, kind, problems: list, where) -> None:
    v = rec.get(key)
    if v is None:
        return
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (isinstance(v, float) and not math.isfinite(v)):
        problems.append(where(key, f"must be a finite number, got {v!r}"))
    elif kind is int and (v < 0 or v != int(v)):
        problems.append(where(key, f"must be a non-negative integer, got {v!r}"))
    elif kind is float and v < 0:
        problems.append(where(key, f"must be non-negative, got {v!r}"))


def parse_line(text: str, lineno: int, path: Path, check_images: str = "exists") -> tuple[CreativePair | None, list[Problem]]:
    """One JSONL line to a record plus its problems. ``check_images``: "none", "exists" or "decode"."""
    path = Path(path)
    base = path.parent

    def where(fld: str, reason: str) -> Problem:
        return Problem(path, lineno, fld, reason)

    try:
        rec = json.loads(text)
    except json.JSONDecodeError as e:
        return None, [where("json", f"not valid JSON ({e.msg} at column {e.colno}); fix or remove the line")]
    if not isinstance(rec, dict):
        return None, [where("json", "each line must be a JSON object")]
    problems: list[Problem] = []
    pid = rec.get("id")
    if not isinstance(pid, (str, int)) or isinstance(pid, bool) or str(pid) == "":
        problems.append(where("id", "missing or empty; give every pair a unique string id"))
    images = {}
    for key in ("image_a", "image_b"):
        v = rec.get(key)
        if not isinstance(v, str) or not v:
            problems.append(where(key, "missing; give a path relative to the pairs file"))
            continue
        p = Path(v) if Path(v).is_absolute() else base / v
        images[key] = p
        if check_images != "none":
            problem = check_image(p, decode=check_images == "decode")
            if problem:
                problems.append(where(key, problem))
    for key in ("query", "title", "rationale"):
        if rec.get(key) is not None and not isinstance(rec[key], str):
            problems.append(where(key, f"must be a string, got {type(rec[key]).__name__}"))
    label = rec.get("label")
    if label is not None and label not in VERDICTS:
        problems.append(where("label", f"must be 'A', 'B' or null, got {label!r}"))
    for key in ("ctr_a", "ctr_b"):
        _number(rec, key, float, problems, where)
    for key in ("impressions_a", "impressions_b"):
        _number(rec, key, int, problems, where)
    teacher = None
    if rec.get("teacher") is not None:
        teacher, tp = _parse_teacher(rec["teacher"], where)
        problems += tp
    if problems:
        return None, problems
    pair = CreativePair(
        id=str(pid),
        image_a=images["image_a"],
        image_b=images["image_b"],
        query=rec.get("query") or "",
        title=rec.get("title") or "",
        label=label,
        ctr_a=rec.get("ctr_a"),
        ctr_b=rec.get("ctr_b"),
        impressions_a=rec.get("impressions_a"),
        impressions_b=rec.get("impressions_b"),
        rationale=rec.get("rationale"),
        teacher=teacher,
        synthetic=bool(rec.get("synthetic", False)),
        extra={k: v for k, v in rec.items() if k not in _KNOWN},
    )
    return pair, []


def _parse_teacher(t, where) -> tuple[TeacherLabel | None, list[Problem]]:
    if not isinstance(t, dict):
        return None, [where("teacher", "must be an object with p_a and verdict")]
    p_a = t.get("p_a")
    if isinstance(p_a, bool) or not isinstance(p_a, (int, float)) or not (0.0 <= p_a <= 1.0):
        return None, [where("teacher.p_a", f"must be a probability in [0, 1], got {p_a!r}")]
    verdict = t.get("verdict", "A" if p_a >= 0.5 else "B")
    if verdict not in VERDICTS:
        return None, [where("teacher.verdict", f"must be 'A' or 'B', got {verdict!r}")]
    rationales = t.get("rationales") or []
    if not isinstance(rationales, list) or not all(isinstance(r, str) for r in rationales):
        return None, [where("teacher.rationales", "must be a list of strings")]
    orders = t.get("p_a_orders") or []
    return TeacherLabel(float(p_a), verdict, rationales, str(t.get("model", "")), [float(x) for x in orders]), []


def check_image(path: Path, decode: bool = True) -> str | None:
    """Why an image file cannot be used, or None when it is fine."""
    path = Path(path)
    if not path.is_file():
        return f"image file not found: {path}"
    if not decode:
        return None
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()
    except UnidentifiedImageError:
        return f"not an image file: {path}"
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        return f"corrupt or truncated image {path}: {e}"
    return None


def iter_lines(path: Path):
    """(line number, text) for every non-blank line."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"pairs file not found: {path}")
    with open(path, encoding="utf-8") as fh:
        for lineno, text in enumerate(fh, 1):
            if text.strip():
                yield lineno, text


def _checked_lines(path: Path, check_images: str, require: str | None = None):
    """(pair or None, problems) per non-blank line; a repeated id or a missing ``require`` is a problem."""
    seen: dict[str, int] = {}
    for lineno, text in iter_lines(path):
        pair, p = parse_line(text, lineno, path, check_images)
        if pair is not None:
            if pair.id in seen:
                p = [Problem(path, lineno, "id", f"duplicate id {pair.id!r} (first on line {seen[pair.id]})")]
            elif require and not _has(pair, require):
                p = [Problem(path, lineno, require, f"this command needs {require.replace('_', ' ')} on every pair")]
        if pair is not None and not p:
            seen[pair.id] = lineno
        yield pair, p


def validate_pairs(path: Path, decode_images: bool = True) -> tuple[int, list[Problem]]:
    """Check every line (images decoded by default); returns (good pair count, all problems)."""
    good, problems = 0, []
    for pair, p in _checked_lines(Path(path), "decode" if decode_images else "exists"):
        problems += p
        good += pair is not None and not p
    return good, problems


def load_pairs(path: Path, check_images: str = "exists", require: str | None = None) -> list[CreativePair]:
    """Every pair in the file, or a PairsError listing every bad line.

    ``require``: "label" (a ground-truth label on every pair), "teacher" (a teacher label), or
    "label_or_teacher".
    """
    path = Path(path)
    pairs, problems = [], []
    for pair, p in _checked_lines(path, check_images, require):
        problems += p
        if pair is not None and not p:
            pairs.append(pair)
    if problems:
        raise PairsError(problems)
    if not pairs:
        raise PairsError([Problem(path, 0, "file", "no pairs in the file")])
    return pairs


def _has(pair: CreativePair, require: str) -> bool:
    return {
        "label": pair.label is not None,
        "teacher": pair.teacher is not None,
        "label_or_teacher": pair.label is not None or pair.teacher is not None,
    }[require]


def write_pairs(pairs, path: Path) -> None:
    """Write records atomically (temp file, then rename); image paths relative to the file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for pair in pairs:
            fh.write(json.dumps(pair.to_json(path.parent), ensure_ascii=False) + "\n")
    tmp.replace(path)
