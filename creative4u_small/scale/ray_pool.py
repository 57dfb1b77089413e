"""Work items through a pool of Ray actors with Ray Data: ``map_batches`` with a callable class, one actor per model copy.

The driver hands Ray Data the items (``from_items``, one block per batch, so a batch is what a dead worker's retry
repeats); each actor loads its model once in ``load`` and turns batches of items into records in ``work``; records
stream back to the driver, which writes them. Ray Data restarts a killed actor and retries its batches
(``max_task_retries``). A ledger actor counts how often each item was started, so the driver can say which were
retried. Actors ask Ray for ``cpus`` (fractional is fine) and ``gpus`` each: on a 2-CPU machine, 2 actors of
1 CPU leave nothing for Ray Data's own tasks, which is why items come from the driver, not from a read task.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections import Counter

from creative4u_small.scale.ray_cluster import import_ray, worker_identity


class StartLedger:
    """A Ray actor (0 CPU) that counts starts per item id: ids started twice were retried after a worker died."""

    def __init__(self):
        self.starts: Counter = Counter()

    def started(self, ids: list[str]) -> None:
        self.starts.update(ids)

    def retried(self) -> list[str]:
        return sorted(i for i, n in self.starts.items() if n > 1)


class PoolWorker:
    """Base of the callable classes Ray Data runs as actors. Subclasses load their model in ``load(**kwargs)`` and
    answer ``work(items) -> [{"id", "kind", "data"[, "seconds"]}]`` (``kind``: what the driver does with ``data``)."""

    def __init__(self, ledger=None, **kwargs):
        self.ledger = ledger
        self.load(**kwargs)

    def load(self, **kwargs) -> None:
        raise NotImplementedError

    def work(self, items: list) -> list[dict]:
        raise NotImplementedError

    def __call__(self, batch: dict) -> dict:
        ids = [str(i) for i in batch["id"]]
        if self.ledger is not None:
            import ray

            ray.get(self.ledger.started.remote(ids))
        t0 = time.perf_counter()
        records = self.work([json.loads(s) for s in batch["item"]])
        share = (time.perf_counter() - t0) / max(len(records), 1)
        me = json.dumps(worker_identity())
        return {"id": [r["id"] for r in records], "kind": [r["kind"] for r in records],
                "data": [json.dumps(r["data"], ensure_ascii=False) for r in records],
                "seconds": [float(r.get("seconds", share)) for r in records], "worker": [me] * len(records)}


def records_of(batch: dict) -> list[dict]:
    """The records of one output batch of ``PoolWorker`` (columns back to dicts)."""
    return [{"id": str(i), "kind": str(k), "data": json.loads(d), "seconds": float(s), "worker": json.loads(w)}
            for i, k, d, s, w in zip(batch["id"], batch["kind"], batch["data"], batch["seconds"], batch["worker"])]


def quiet_ray_data() -> None:
    """Ray Data's own progress bars and execution logs off: stderr carries the command's progress, stdout its JSON."""
    import ray.data

    ray.data.DataContext.get_current().enable_progress_bars = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)


def run_pool(items: list[tuple[str, object]], worker_cls: type[PoolWorker], worker_kwargs: dict, on_records, *,
             workers: int, cpus: float, gpus: float = 0.0, items_per_batch: int = 1, max_retries: int = 3) -> list[str]:
    """``items`` ((id, JSON-able item) pairs) through ``workers`` actors of ``worker_cls(**worker_kwargs)`` on the Ray
    this process is connected to; ``on_records(records)`` runs in this thread as each batch comes back.
    Returns the ids that were started more than once (their batch was retried after a worker died)."""
    ray = import_ray()
    from ray.data import ActorPoolStrategy

    quiet_ray_data()
    if not items:
        return []
    ledger = ray.remote(num_cpus=0)(StartLedger).remote()
    ds = ray.data.from_items([{"id": i, "item": json.dumps(item)} for i, item in items],
                             override_num_blocks=math.ceil(len(items) / items_per_batch))
    ds = ds.map_batches(worker_cls, fn_constructor_kwargs={**worker_kwargs, "ledger": ledger}, batch_size=items_per_batch,
                        batch_format="numpy", compute=ActorPoolStrategy(size=workers), num_cpus=cpus, num_gpus=gpus or None,
                        max_restarts=-1, max_task_retries=max_retries)
    for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
        on_records(records_of(batch))
    return ray.get(ledger.retried.remote())
