"""Work items through a pool of Ray actors with Ray Data: ``map_batches`` with a callable class, one actor per model copy.

The driver hands Ray Data the items (``from_items``, one block per batch, so a batch is what a dead worker's retry
repeats); each actor loads its model once in ``load`` and turns batches of items into records in ``work``; records
stream back to the driver, which writes them. Ray Data restarts a killed actor and runs its batches again. A ledger
actor counts how often each item was started: the driver reports the items retried, and a batch started more than
``max_retries`` + 1 times (its worker died on it each time) stops the job instead of killing workers forever.
Actors ask Ray for ``cpus`` (fractional is fine) and ``gpus`` each: on a 2-CPU machine, 2 actors of 1 CPU leave
nothing for Ray Data's own tasks, which is why items come from the driver, not from a read task.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
import uuid
from collections import Counter

from creative4u_small.scale.ray_cluster import import_ray, worker_identity

LEDGER_PREFIX = "c4u-ledger-"


class StartLedger:
    """A Ray actor (0 CPU) that counts starts per item id (ids started twice were retried after a worker died) and
    knows which batch each worker is on. Named ``c4u-ledger-...``: ``ray.get_actor`` finds a running job's."""

    def __init__(self):
        self.starts: Counter = Counter()
        self.running: dict[str, list[str]] = {}

    def started(self, ids: list[str], worker: str) -> int:
        """Count a start of ``ids`` by ``worker``; returns the most times any of them has been started."""
        self.starts.update(ids)
        self.running[worker] = ids
        return max(self.starts[i] for i in ids)

    def finished(self, worker: str) -> None:
        self.running.pop(worker, None)

    def in_flight(self) -> dict[str, list[str]]:
        """Worker (``pid@node``) -> the ids of the batch it is on."""
        return dict(self.running)

    def retried(self) -> list[str]:
        return sorted(i for i, n in self.starts.items() if n > 1)


class PoolWorker:
    """Base of the callable classes Ray Data runs as actors. Subclasses load their model in ``load(**kwargs)`` and
    answer ``work(items) -> [{"id", "kind", "data"[, "seconds"]}]`` (``kind``: what the driver does with ``data``)."""

    def __init__(self, ledger=None, max_starts: int = 0, **kwargs):
        self.ledger, self.max_starts = ledger, max_starts
        self.load(**kwargs)

    def load(self, **kwargs) -> None:
        raise NotImplementedError

    def work(self, items: list) -> list[dict]:
        raise NotImplementedError

    def __call__(self, batch: dict) -> dict:
        ids = [str(i) for i in batch["id"]]
        me = worker_identity()
        key = f"{me['pid']}@{me['node']}"
        if self.ledger is not None:
            import ray

            starts = ray.get(self.ledger.started.remote(ids, key))
            if self.max_starts and starts > self.max_starts:
                raise RuntimeError(f"the batch of {ids[0]!r} was started {starts} times and its worker died each time; "
                                   "the job stops (rows written are kept): find what kills the worker, or raise --max-retries")
        t0 = time.perf_counter()
        records = self.work([json.loads(s) for s in batch["item"]])
        share = (time.perf_counter() - t0) / max(len(records), 1)
        if self.ledger is not None:
            self.ledger.finished.remote(key)
        worker = json.dumps(me)
        return {"id": [r["id"] for r in records], "kind": [r["kind"] for r in records],
                "data": [json.dumps(r["data"], ensure_ascii=False) for r in records],
                "seconds": [float(r.get("seconds", share)) for r in records], "worker": [worker] * len(records)}


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
    ledger = ray.remote(num_cpus=0)(StartLedger).options(name=f"{LEDGER_PREFIX}{uuid.uuid4().hex[:12]}").remote()
    ds = ray.data.from_items([{"id": i, "item": json.dumps(item)} for i, item in items],
                             override_num_blocks=math.ceil(len(items) / items_per_batch))
    ctor = {**worker_kwargs, "ledger": ledger, "max_starts": max_retries + 1}
    ds = ds.map_batches(worker_cls, fn_constructor_kwargs=ctor, batch_size=items_per_batch, batch_format="numpy",
                        compute=ActorPoolStrategy(size=workers), num_cpus=cpus, num_gpus=gpus or None)
    try:
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
            on_records(records_of(batch))
    except ray.exceptions.RayTaskError as e:  # a worker's own error: its message, not Ray's wrapping of it
        raise RuntimeError(f"a Ray worker failed: {worker_error(str(e))}") from None
    return ray.get(ledger.retried.remote())


def worker_error(text: str) -> str:
    """The line naming the worker's own exception in the text of a Ray task error (Ray and Ray Data wrap it in
    their own exceptions and its traceback); the first line when there is none."""
    named = [m.group(0) for m in re.finditer(r"^[A-Za-z_][\w.]*(?:Error|Exception): .*$", text, re.MULTILINE)]
    own = [line for line in named if not line.startswith("ray.")]
    return (own or named or text.strip().splitlines()[:1] or ["unknown error"])[0]
