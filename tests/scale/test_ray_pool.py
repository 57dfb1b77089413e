"""The pieces of the Ray actor pool that need no cluster (tests/batch and tests/distill/label run real ones)."""

from __future__ import annotations

from creative4u_small.scale.ray_pool import StartLedger, records_of, worker_error


def test_the_ledger_counts_starts_and_names_the_retried():
    ledger = StartLedger()
    assert ledger.started(["a", "b"], "7@n1") == 1 and ledger.started(["c"], "8@n1") == 1
    assert ledger.in_flight() == {"7@n1": ["a", "b"], "8@n1": ["c"]}
    ledger.finished("8@n1")
    assert ledger.in_flight() == {"7@n1": ["a", "b"]}
    assert ledger.started(["a", "b"], "9@n1") == 2  # the batch ran again after its worker died
    assert ledger.retried() == ["a", "b"]


def test_a_worker_error_is_its_own_line_not_rays():
    text = ("ray::MapWorker(MapBatches(GroupActor)).submit() (pid=1, ip=127.0.0.1)\n  File \"x.py\", line 6, in __call__\n"
            "RuntimeError: the batch of 'g1' was started 2 times and its worker died each time\nmore\n\n"
            "The above exception was the direct cause of the following exception:\n\n"
            "ray.exceptions.UserCodeException: UDF failed to process a data block.\n")
    assert worker_error(text) == "RuntimeError: the batch of 'g1' was started 2 times and its worker died each time"
    assert worker_error("ray.exceptions.RayActorError: The actor died\n") == "ray.exceptions.RayActorError: The actor died"


def test_records_come_back_from_columns():
    batch = {"id": ["g1"], "kind": ["row"], "data": ['{"id": "g1", "ranking": [1, 0]}'], "seconds": [0.5],
             "worker": ['{"pid": 7, "node": "n1", "host": "h"}']}
    assert records_of(batch) == [{"id": "g1", "kind": "row", "data": {"id": "g1", "ranking": [1, 0]}, "seconds": 0.5,
                                  "worker": {"pid": 7, "node": "n1", "host": "h"}}]
