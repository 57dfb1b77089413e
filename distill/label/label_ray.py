"""``c4u label --engine ray``: the batches one process would label, labelled by Ray actors that each hold one teacher.

The driver cuts the pairs still to label into the same batches as ``c4u label`` (``batch_size``, in file order), so
each batch gets the same sampling seed (``seed`` + its pair ids) and the same labels; each actor loads the teacher
once (transformers, or one vLLM engine on its GPU) and labels whole batches. Records are appended to ``--out`` as
batches come back (in the order they finish), each pair once, in the format ``c4u label`` writes and resumes.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path

from creative4u_small.contract.pairs import CreativePair, parse_line
from creative4u_small.distill.label.label import Labeller, make_generator
from creative4u_small.distill.label.label_config import LabelConfig
from creative4u_small.distill.sampling import torch_device
from creative4u_small.modeling.checkpoint import load_model
from creative4u_small.scale.job_tally import JobTally, sigterm_interrupts
from creative4u_small.scale.ray_cluster import ray_session, usable_cores
from creative4u_small.scale.ray_pool import PoolWorker, run_pool
from creative4u_small.scale.row_writer import RowWriter


class LabelActor(PoolWorker):
    """One teacher copy on a Ray worker; an item is one batch of pairs (JSON, absolute image paths)."""

    def load(self, config: dict, pairs_file: str, out_dir: str) -> None:
        cfg = LabelConfig(**config)
        model, processor, ids = load_model(cfg.teacher, device=torch_device(cfg.device))
        self.labeller = Labeller(cfg, model, processor, ids, make_generator(cfg, model, processor))
        self.pairs_file, self.out_dir = Path(pairs_file), Path(out_dir)

    def work(self, items: list[list[dict]]) -> list[dict]:
        out = []
        for batch in items:
            pairs = [parse_line(json.dumps(d), 0, self.pairs_file, check_images="none")[0] for d in batch]
            t0 = time.perf_counter()
            records = self.labeller.label(pairs)
            share = (time.perf_counter() - t0) / len(records)
            out += [{"id": r.id, "kind": "row", "data": r.to_json(self.out_dir), "seconds": share} for r in records]
        return out


def _portable(pair: CreativePair) -> dict:
    """A pair as JSON with absolute image paths, so a worker in any folder finds them."""
    return dataclasses.replace(pair, image_a=Path(pair.image_a).resolve(), image_b=Path(pair.image_b).resolve()).to_json()


def label_on_ray(config: LabelConfig, pairs: list[CreativePair], todo: list[CreativePair], progress=None, warn=print) -> dict:
    """Label ``todo`` (the pairs of ``pairs`` not yet in ``config.out``) on Ray; returns what the summary adds."""
    out = Path(config.out)
    rows = RowWriter(out, {p.id for p in pairs}, config.pairs, warn=warn, what="labels")
    tally = JobTally(rows, None, len(pairs), "pairs", progress)
    batches = [todo[i: i + config.batch_size] for i in range(0, len(todo), config.batch_size)]
    items = [(f"batch-{k}", [_portable(p) for p in batch]) for k, batch in enumerate(batches)]
    teacher = str(Path(config.teacher).resolve()) if Path(config.teacher).exists() else config.teacher  # a folder, or a hub id
    kwargs = {"config": {**dataclasses.asdict(config), "teacher": teacher}, "pairs_file": str(Path(config.pairs).resolve()),
              "out_dir": str(out.resolve().parent)}
    started = time.perf_counter()
    with sigterm_interrupts(), ray_session(config.ray_address, num_cpus=max(usable_cores(), math.ceil(config.workers * config.cpus_per_worker))) as cluster:
        retried = run_pool(items, LabelActor, kwargs, tally.add, workers=config.workers, cpus=config.cpus_per_worker,
                           gpus=config.gpus_per_worker, items_per_batch=1, max_retries=config.max_retries)
    summary = tally.summary(time.perf_counter() - started, sum(len(batches[int(k.split("-")[1])]) for k in retried))
    return {"labelled_now": tally.done, "retried": summary["retried"], "duplicates_dropped": summary["duplicates_dropped"],
            "nodes": summary["nodes"], "workers": summary["workers"], "cluster": cluster}
