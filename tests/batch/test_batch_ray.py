"""`c4u batch --engine ray` on real Ray processes: a two-node cluster on this machine (one raylet per node), a worker
killed with SIGKILL mid-run, and the command's own local Ray interrupted and rerun with HOME pointed at an empty
folder. Every run's rows equal the single-process Selector's."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import psutil
import pytest
from batch_cases import INT8_TOL, SELECTOR_INT8, assert_matches, batch_config, c4u_without_torch, read_rows

from creative4u_small.batch.run_batch import run_batch
from creative4u_small.scale.ray_pool import LEDGER_PREFIX


def actor_pids(name: str) -> list[int]:
    """Processes under this one (the cluster's raylets) running a Ray Data actor of class ``name``."""
    return [p.pid for p in psutil.Process().children(recursive=True) if name in " ".join(_cmdline(p))]


def _cmdline(p) -> list[str]:
    try:
        return p.cmdline()
    except psutil.Error:
        return []


def test_two_nodes_two_actors_give_the_single_process_answers(ray_cluster, tiny_export, groups_file, reference_int8, tmp_path):
    """INT8, Parquet out: one actor per node, each answer the in-process Selector's within 1e-4."""
    out = tmp_path / "ranked.parquet"
    summary = run_batch(batch_config(tiny_export, groups_file, out, engine="ray", ray_address=ray_cluster, workers=2,
                                     selector=SELECTOR_INT8))
    assert_matches(read_rows(out), reference_int8, INT8_TOL)
    assert summary["done"] == 40 and summary["rejected"] == 0 and summary["cluster"]["nodes"] == 2
    assert len(summary["nodes"]) == 2, summary["workers"]  # one actor per node: each asks for the node's one CPU
    assert {w["node_ip"] for w in summary["workers"]} == {"127.0.0.1"}
    assert not any(w["torch_loaded"] for w in summary["workers"])
    assert sum(w["groups"] for w in summary["workers"]) == 40 and all(w["groups_per_s"] > 0 for w in summary["workers"])


class MidBatchKiller(threading.Thread):
    """SIGKILL to one actor while it is on a batch. The job's ledger actor says which batch each worker is on; the
    killer freezes (SIGSTOP) such a worker and, if frozen it is still on that batch (so the batch cannot have come
    back), kills it; otherwise it lets it go (SIGCONT) and tries again."""

    def __init__(self):
        super().__init__(daemon=True)
        self.killed: tuple[int, list[str]] | None = None
        self.done = threading.Event()

    def run(self):
        import ray

        ledger = None
        while not self.done.is_set() and self.killed is None:
            time.sleep(0.05)
            try:
                if ledger is None:
                    names = [n for n in ray.util.list_named_actors() if n.startswith(LEDGER_PREFIX)] if ray.is_initialized() else []
                    ledger = ray.get_actor(names[0]) if names else None
                    continue
                for worker, ids in ray.get(ledger.in_flight.remote()).items():
                    pid = int(worker.split("@")[0])
                    os.kill(pid, signal.SIGSTOP)
                    time.sleep(0.3)  # a "finished" it sent before the freeze has landed by now
                    if ray.get(ledger.in_flight.remote()).get(worker) == ids:
                        os.kill(pid, signal.SIGKILL)
                        self.killed = (pid, ids)
                        break
                    os.kill(pid, signal.SIGCONT)
            except Exception:  # noqa: BLE001 - the job is starting or ending: look again
                ledger = None


def _run_with_a_worker_killed(cfg) -> tuple[dict | Exception, tuple[int, list[str]] | None]:
    killer = MidBatchKiller()
    killer.start()
    try:
        summary = run_batch(cfg)
    except RuntimeError as e:
        summary = e
    finally:
        killer.done.set()
        killer.join()
    return summary, killer.killed


def test_a_worker_killed_mid_run_loses_nothing_and_duplicates_nothing(ray_cluster, tiny_export, groups_file, reference_explained, tmp_path):
    """SIGKILL to an actor in the middle of a batch (explain makes a batch ~0.2 s of work): Ray restarts it and runs
    that batch again; the writer keeps every id once."""
    out = tmp_path / "ranked.jsonl"
    cfg = batch_config(tiny_export, groups_file, out, engine="ray", ray_address=ray_cluster, workers=2, explain=True,
                       groups_per_batch=2)
    summary, killed = _run_with_a_worker_killed(cfg)
    assert killed is not None, "no worker was caught in the middle of a batch"
    rows = read_rows(out)
    assert len(rows) == 40 and summary["done"] == 40
    assert_matches(rows, reference_explained)
    assert summary["retried"] >= len(killed[1]), (killed, summary)
    assert killed[0] not in actor_pids("GroupActor")


def test_a_batch_whose_worker_keeps_dying_stops_the_job_with_the_rows_kept(ray_cluster, tiny_export, groups_file, reference_explained,
                                                                           tmp_path):
    """With --max-retries 0 the batch of a killed worker is not run again: the job stops, naming it; what was written
    stays, whole and once per id, for a rerun to continue."""
    out = tmp_path / "ranked.jsonl"
    cfg = batch_config(tiny_export, groups_file, out, engine="ray", ray_address=ray_cluster, workers=2, explain=True,
                       groups_per_batch=2, max_retries=0)
    error, killed = _run_with_a_worker_killed(cfg)
    assert killed is not None, "no worker was caught in the middle of a batch"
    assert isinstance(error, RuntimeError) and f"the batch of {killed[1][0]!r} was started 2 times" in str(error), error
    rows = read_rows(out)
    assert 0 < len(rows) < 40 and killed[1][0] not in {r["id"] for r in rows}
    assert_matches(rows, {r["id"]: reference_explained[r["id"]] for r in rows})


def test_an_interrupted_driver_reruns_to_the_whole_file_and_home_stays_empty(tiny_export, groups_file, reference_explained, tmp_path,
                                                                           request):
    """The command's own local Ray: SIGINT once the first rows are written stops it (exit 130, complete rows only, its
    Ray and temp folder gone); the rerun, with 2 workers, writes the rest. HOME stays empty throughout."""
    pytest.importorskip("ray", reason="the ray extra is not installed")
    home, tmp = tmp_path / "home", Path(tempfile.mkdtemp(prefix="c4u-t", dir="/tmp"))  # short: Ray's socket paths live under it
    home.mkdir()
    request.addfinalizer(lambda: shutil.rmtree(tmp, ignore_errors=True))
    out = tmp_path / "ranked.jsonl"
    env = {**os.environ, "HOME": str(home), "TMPDIR": str(tmp)}
    copies = groups_file.parent / f"copies-{tmp.name}.jsonl"  # 5 x 40 groups: a run lasts long enough to be interrupted
    rows = [json.loads(line) for line in groups_file.read_text().splitlines()]
    copies.write_text("".join(json.dumps({**r, "id": f"{r['id']}~{k}"}) + "\n" for k in range(5) for r in rows))
    reference = {f"{i}~{k}": want for i, want in reference_explained.items() for k in range(5)}

    def cmd(workers: int) -> list[str]:  # one worker first: the rows come slowly enough to be interrupted mid-run
        return c4u_without_torch("--export", str(tiny_export), "--groups", str(copies), "--out", str(out), "--engine", "ray",
                                 "--workers", str(workers), "--threads", "1", "--backend", "cpu", "--explain", "--groups-per-batch", "1")

    # SIGINT at its default in the child: a pytest started in the background (`cmd &`) ignores it, and children inherit that
    proc = subprocess.Popen(cmd(1), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if line.startswith("batch: ") and "/200" in line:  # the first plain progress line: rows are on disk
            break
    proc.send_signal(signal.SIGINT)
    rest = proc.communicate(timeout=120)[1]
    assert proc.returncode == 130, "".join(seen)[-2000:] + rest[-2000:]
    assert "interrupted" in rest
    first = read_rows(out)
    assert 0 < len(first) < 200
    assert list(tmp.iterdir()) == [], "the local Ray's session folder outlived the job"

    done = subprocess.run(cmd(2), env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    assert_matches(read_rows(out), reference)
    assert '"already_done": %d' % len(first) in done.stdout and "torch imported: False" in done.stderr
    assert list(home.iterdir()) == [], list(home.rglob("*"))
