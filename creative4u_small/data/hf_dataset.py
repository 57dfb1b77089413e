"""CreativePair records as Hugging Face ``datasets.Dataset`` objects (interop and trl training).

Two shapes:

- ``pairs_dataset``: one row per pair with ``datasets.Image()`` columns ``image_a``/``image_b``
  and the scalar fields, for anyone who works with the ``datasets`` ecosystem;
- ``prompt_completion_dataset``: trl's conversational prompt-completion format (``prompt``,
  ``completion``, ``images`` = [Creative A, Creative B]) with the swapped order as a second row
  when ``both_orders`` is set, so a trainer sees each pair in both image orders.

The prompt and completions come from ``protocol``; ``datasets`` is imported lazily.
"""

from __future__ import annotations

from creative4u_small.contract import protocol
from creative4u_small.contract.images import open_image
from creative4u_small.contract.pairs import CreativePair

SCALAR_COLUMNS = ("id", "query", "title", "label", "ctr_a", "ctr_b", "impressions_a", "impressions_b", "rationale", "synthetic")


def pairs_dataset(pairs: list[CreativePair]):
    """One row per pair: image columns (decoded lazily to PIL by ``datasets``) plus scalar fields."""
    from datasets import Dataset, Features, Image, Value

    rows = {k: [] for k in ("image_a", "image_b", *SCALAR_COLUMNS, "teacher_p_a", "teacher_verdict")}
    for p in pairs:
        rows["image_a"].append(str(p.image_a))
        rows["image_b"].append(str(p.image_b))
        for k in SCALAR_COLUMNS:
            rows[k].append(getattr(p, k))
        rows["teacher_p_a"].append(p.teacher.p_a if p.teacher else None)
        rows["teacher_verdict"].append(p.teacher.verdict if p.teacher else None)
    features = Features(
        image_a=Image(), image_b=Image(), id=Value("string"), query=Value("string"), title=Value("string"),
        label=Value("string"), ctr_a=Value("float64"), ctr_b=Value("float64"), impressions_a=Value("int64"),
        impressions_b=Value("int64"), rationale=Value("string"), synthetic=Value("bool"),
        teacher_p_a=Value("float64"), teacher_verdict=Value("string"),
    )
    return Dataset.from_dict(rows, features=features)


def order_rows(pair: CreativePair, both_orders: bool, with_completion: bool) -> list[dict]:
    """The training rows of one pair: its own order, then (``both_orders``) the swapped one.

    A swapped row shows the images reversed, flips the label and rewrites the rationale with
    ``protocol.swap_teacher_completion``; ``order`` says which ("AB" or "BA").
    """
    if with_completion and not pair.rationale:
        raise ValueError(f"pair {pair.id!r} has no rationale; teacher SFT needs a protocol-format rationale on every pair")
    if with_completion:
        parsed = protocol.parse_teacher(pair.rationale)
        if isinstance(parsed, protocol.ParseError):
            raise ValueError(f"pair {pair.id!r}: rationale is not in the teacher format ({parsed.reason})")
    prompt = protocol.prompt_messages(pair.query, pair.title)
    rows = []
    for order in ("AB", "BA") if both_orders else ("AB",):
        swap = order == "BA"
        row = {
            "id": pair.id,
            "order": order,
            "prompt": prompt,
            "images": [str(pair.image_b), str(pair.image_a)] if swap else [str(pair.image_a), str(pair.image_b)],
            "label": protocol.flip_verdict(pair.label) if swap and pair.label else pair.label,
        }
        if with_completion:
            text = protocol.swap_teacher_completion(pair.rationale) if swap else pair.rationale
            row["completion"] = protocol.completion_messages(text)
        rows.append(row)
    return rows


def prompt_completion_dataset(pairs: list[CreativePair], both_orders: bool = True, with_completion: bool = True, upright: bool = False):
    """trl's conversational format with an ``images`` column ([A, B] as ``datasets.Image``).

    ``with_completion=False`` gives the prompt-only dataset that ``GRPOTrainer`` expects; the
    ``label`` and ``order`` columns reach reward functions as keyword arguments. ``upright``
    passes every image through ``images.open_image`` when read (EXIF orientation, RGB with alpha
    on white), so training sees the pixels that scoring, export and the runtime see.
    """
    from datasets import Dataset, Image, List

    rows = [r for p in pairs for r in order_rows(p, both_orders, with_completion)]
    ds = Dataset.from_list(rows).cast_column("images", List(Image()))
    return ds.with_transform(upright_images) if upright else ds


def upright_images(batch: dict) -> dict:
    """``datasets`` transform: the ``images`` lists as upright RGB PIL images."""

    batch["images"] = [[open_image(im) for im in ims] for ims in batch["images"]]
    return batch
