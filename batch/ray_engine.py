"""``--engine ray``: groups answered by a pool of Ray actors (Ray Data ``map_batches`` with a callable class), one
``GroupScorer`` per actor, on the cluster at ``--ray-address`` or on a local Ray started and stopped for the job.

Each actor reserves ``cpus_per_actor`` CPUs (``--threads`` unless ``--cpus-per-worker`` says otherwise) and
``--gpus-per-worker`` GPUs. A local Ray gets at least the CPUs its actors ask for, so none waits forever for a
CPU that Ray's own bookkeeping holds.
"""

from __future__ import annotations

import math
from pathlib import Path

from creative4u_small.batch.batch_config import BatchConfig
from creative4u_small.batch.group_scorer import GroupScorer
from creative4u_small.scale.ray_cluster import ray_session, usable_cores
from creative4u_small.scale.ray_pool import PoolWorker, run_pool


class GroupActor(PoolWorker):
    """One model copy on a Ray worker: the job's ``GroupScorer``, loaded once."""

    def load(self, config: dict) -> None:
        self.scorer = GroupScorer(BatchConfig.from_dict(config))

    def work(self, items: list[dict]) -> list[dict]:
        return self.scorer.score(items)


def run_ray(config: BatchConfig, groups: list[dict], on_records, warn=print) -> tuple[list[str], dict]:
    """Answer ``groups`` on Ray; ``on_records(records)`` in this thread per finished batch.
    Returns (the ids retried, the cluster it ran on)."""
    asked = config.workers * config.cpus_per_actor
    local_cpus = max(usable_cores(), math.ceil(asked))
    with ray_session(config.ray_address, num_cpus=local_cpus) as cluster:
        have = cluster["resources"].get("CPU", 0)
        if asked > have:
            warn(f"warning: {config.workers} workers x {config.cpus_per_actor:g} CPUs = {asked:g} CPUs, but the cluster has "
                 f"{have:g}: some actors wait for a node (an autoscaler may add one); lower --workers or --cpus-per-worker")
        portable = {**config.to_dict(), "export": str(Path(config.export).resolve())}  # the same path on every node
        retried = run_pool([(g["id"], g) for g in groups], GroupActor, {"config": portable}, on_records,
                           workers=config.workers, cpus=config.cpus_per_actor, gpus=config.gpus_per_worker,
                           items_per_batch=config.groups_per_batch, max_retries=config.max_retries)
    return retried, cluster
