"""`c4u data annotate` against an OpenAI-compatible server run on 127.0.0.1 as a real process.

The server answers with the synthetic renderer's own rationale for the pair its two images
belong to (in the frame of the order they arrive in), so an accepted record can be checked
exactly; a script makes chosen pairs hit 429, 500, 400, 401, malformed or wrong answers.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from creative4u_small.contract import protocol
from creative4u_small.contract.pairs import load_pairs
from creative4u_small.distill.annotate.annotate import annotate_pairs, rejects_path, report_path
from creative4u_small.distill.annotate.annotate_config import AnnotateConfig

pytest.importorskip("openai")

SERVER = Path(__file__).parents[1] / "openai_compatible_server.py"  # beside tests/distill: test_readme_path starts it too
C4U = Path(sys.executable).with_name("c4u")


def records(path):
    path = Path(path)
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


class Server:
    def __init__(self, pairs, tmp, script=None, key="", delay=0.0, model_dir=None):
        self.log = tmp / "server_log.jsonl"
        port_file = tmp / "port.txt"
        args = [sys.executable, str(SERVER), "--pairs", str(pairs), "--port-file", str(port_file), "--log", str(self.log), "--delay", str(delay)]
        if script is not None:
            (tmp / "script.json").write_text(json.dumps(script))
            args += ["--script", str(tmp / "script.json")]
        if key:
            args += ["--key", key]
        if model_dir:
            args += ["--model-dir", str(model_dir)]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 90
        while not port_file.exists():
            if self.proc.poll() is not None or time.time() > deadline:
                self.stop()
                raise RuntimeError(f"test server did not start: {self.proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{port_file.read_text()}/v1"

    def requests(self):
        return records(self.log)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture
def server(tmp_path):
    started = []

    def start(pairs, **kw):
        s = Server(pairs, tmp_path, **kw)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


@pytest.fixture(scope="module")
def six_pairs(pairs_subset):
    return pairs_subset(6)


def cfg(pairs, out, url, **kw):
    return AnnotateConfig(pairs=str(pairs), out=str(out), annotator=url, **{"retries": 2, "batch_size": 4, "api_key_env": "C4U_TEST_KEY", **kw})


def test_retries_on_429_and_500_retry_wrong_answers_and_reject_malformed(six_pairs, server, tmp_path, monkeypatch):
    monkeypatch.delenv("C4U_TEST_KEY", raising=False)
    ids = [p.id for p in load_pairs(six_pairs)]
    script = {
        ids[0]: {"actions": ["429"]},
        ids[1]: {"actions": ["500"]},
        ids[2]: {"then": "malformed"},
        ids[3]: {"actions": ["wrong"]},
    }
    srv = server(six_pairs, script=script)
    out = tmp_path / "cot.jsonl"
    summary = annotate_pairs(cfg(six_pairs, out, srv.url, orders="both"))

    truth = {p.id: p for p in load_pairs(six_pairs)}
    accepted = records(out)
    assert [r["id"] for r in accepted] == [i for i in ids if i != ids[2]]
    for r in accepted:
        assert r["rationale"] == truth[r["id"]].rationale  # the server's answer, in the AB frame
        assert r["annotation"]["rationale_ba"] == protocol.swap_teacher_completion(truth[r["id"]].rationale)
        ann = r["annotation"]
        assert ann["prompt_version"] == protocol.ANNOTATION_PROMPT_VERSION
        assert ann["annotator"] == f"test-vlm@{srv.url}" and ann["order"] == "AB" and ann["orders"] == ["AB", "BA"]
        assert r["factors"] == truth[r["id"]].extra["factors"] and r["label"] == truth[r["id"]].label
    by_id = {r["id"]: r for r in accepted}
    # one wrong answer, resampled (concurrent requests: either order may be the one that got it)
    assert sorted(by_id[ids[3]]["annotation"]["attempts"].values()) == [1, 2]
    assert by_id[ids[0]]["annotation"]["attempts"] == {"AB": 1, "BA": 1}  # HTTP retries are not resamples

    rejected = records(rejects_path(out))
    assert [r["id"] for r in rejected] == [ids[2]]
    assert rejected[0]["category"] == "malformed" and rejected[0]["annotation"]["attempts"] == {"AB": 3, "BA": 3}
    assert rejected[0]["reason"].startswith("malformed: does not start with <think>")

    log = srv.requests()
    statuses = {(r["pair"], r["action"]) for r in log}
    assert {(ids[0], "429"), (ids[1], "500")} <= statuses
    assert max(int(r["retry"]) for r in log if r["pair"] in ids[:2]) >= 1  # the client itself retried
    assert all(r["hint"] == (truth[r["pair"]].label if r["order"] == "AB" else protocol.flip_verdict(truth[r["pair"]].label)) for r in log)
    assert all(r["model"] == "test-vlm" for r in log)  # taken from /v1/models

    assert summary["accepted"] == 5 and summary["rejected"] == 1 and summary["retried"] == 2
    assert summary["accepted_after_retry"] == 1 and summary["rejected_by_reason"] == {"malformed": 1}
    assert summary["run"]["http_retryable_errors"] == 2
    assert sum(q["accepted"] + q["rejected"] for q in summary["per_query"].values()) == 6
    report = json.loads(report_path(out).read_text())
    assert report["results"]["accepted"] == 5 and report["prompt_version"] == protocol.ANNOTATION_PROMPT_VERSION
    assert load_pairs(out, check_images="decode")  # a valid CreativePair file


def test_401_stops_with_one_clear_line_and_writes_nothing(six_pairs, server, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from creative4u_small.cli import app

    srv = server(six_pairs, key="right-key")
    monkeypatch.setenv("C4U_TEST_KEY", "wrong-key")
    out = tmp_path / "cot.jsonl"
    result = CliRunner().invoke(app, [
        "data", "annotate", "--pairs", str(six_pairs), "--out", str(out), "--annotator", srv.url,
        "--endpoint-model", "test-vlm", "--api-key-env", "C4U_TEST_KEY", "--http-retries", "3",
    ])
    assert result.exit_code == 2
    assert "refused the API key (401)" in result.output and "$C4U_TEST_KEY" in result.output
    assert "Traceback" not in result.output
    assert records(out) == [] and records(rejects_path(out)) == []
    assert len(srv.requests()) == 0  # the server refused before reading the pair

    monkeypatch.setenv("C4U_TEST_KEY", "right-key")  # the same command with the right key completes
    result = CliRunner().invoke(app, [
        "data", "annotate", "--pairs", str(six_pairs), "--out", str(out), "--annotator", srv.url,
        "--endpoint-model", "test-vlm", "--api-key-env", "C4U_TEST_KEY",
    ])
    assert result.exit_code == 0, result.output
    assert len(records(out)) == 6


def test_400_mid_run_stops_and_keeps_finished_rounds(six_pairs, server, tmp_path, monkeypatch):
    from creative4u_small.distill.annotate.annotator_endpoint import EndpointStop

    monkeypatch.delenv("C4U_TEST_KEY", raising=False)
    ids = [p.id for p in load_pairs(six_pairs)]
    srv = server(six_pairs, script={ids[4]: {"actions": ["400"]}})
    out = tmp_path / "cot.jsonl"
    with pytest.raises(EndpointStop, match=r"rejected the request \(400\)"):
        annotate_pairs(cfg(six_pairs, out, srv.url, batch_size=2, concurrency=1))
    assert [r["id"] for r in records(out)] == ids[:4]  # rounds 1-2 on disk, round 3 not half-written
    assert sum(1 for r in srv.requests() if r["pair"] == ids[4]) == 1  # a 400 is not retried
    summary = annotate_pairs(cfg(six_pairs, out, srv.url, batch_size=2))
    assert summary["run"]["already_done"] == 4 and [r["id"] for r in records(out)] == ids


def test_sigkill_mid_file_then_resume_annotates_every_pair_once(pairs_subset, server, tmp_path):
    pairs = pairs_subset(12)
    ids = [p.id for p in load_pairs(pairs)]
    srv = server(pairs, script={ids[5]: {"then": "malformed"}}, delay=0.15)
    out = tmp_path / "cot.jsonl"
    cmd = [str(C4U), "data", "annotate", "--pairs", str(pairs), "--out", str(out), "--annotator", srv.url,
           "--batch-size", "1", "--concurrency", "1", "--retries", "1", "--api-key-env", "C4U_TEST_KEY"]
    env = {k: v for k, v in os.environ.items() if k != "C4U_TEST_KEY"}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.time() + 60
    while len(records(out)) < 3 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    first, first_rejects = records(out), records(rejects_path(out))
    assert 3 <= len(first) and len(first) + len(first_rejects) < len(ids), "the run was not killed mid-file"
    with open(out, "a") as fh:  # what a kill during a write leaves behind
        fh.write('{"id": "synth-half", "rationale": "<think>')

    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "dropping a truncated last line" in result.stderr
    done = [r["id"] for r in records(out)] + [r["id"] for r in records(rejects_path(out))]
    assert sorted(done) == sorted(ids) and len(done) == len(set(done))
    assert [r["id"] for r in records(out)][: len(first)] == [r["id"] for r in first]
    assert [r["id"] for r in records(rejects_path(out))] == [ids[5]]
    summary = json.loads(result.stdout)
    assert summary["run"]["already_done"] == len(first) + len(first_rejects)
    annotated_once = [r["pair"] for r in srv.requests() if r["pair"] != ids[5]]
    assert sorted(set(annotated_once)) == sorted(set(ids) - {ids[5]})


def test_teacher_sft_trains_on_the_annotated_file_unchanged(tiny_model_dir, six_pairs, server, tmp_path, monkeypatch):
    from creative4u_small.distill.teacher.sft_config import TeacherSFTConfig
    from creative4u_small.distill.teacher.sft_trainer import train_sft

    monkeypatch.delenv("C4U_TEST_KEY", raising=False)
    srv = server(six_pairs)
    out = tmp_path / "cot.jsonl"
    annotate_pairs(cfg(six_pairs, out, srv.url))
    summary = train_sft(TeacherSFTConfig(model=str(tiny_model_dir), data=str(out), out=str(tmp_path / "sft"), max_steps=1, batch_size=4, learning_rate=1e-3))
    assert summary and (tmp_path / "sft" / "model.safetensors").exists()


def test_endpoint_sends_what_the_local_path_renders_to_a_real_model(tiny_model_dir, pairs_subset, server, tmp_path, monkeypatch):
    """The server answers with the tiny model itself, from the prompt and images it received.

    What it received, rendered through the model's chat template, is byte-for-byte the prompt the
    local annotator renders, and the images are the pair's in the order asked. (An untrained tiny
    model's text barely depends on its input, so its rejected outputs only show the path runs.)
    """
    import hashlib

    from creative4u_small.distill.annotate.annotate import requests_for
    from creative4u_small.distill.annotate.annotator_local import LocalAnnotator
    from creative4u_small.distill.sampling import _prompts

    monkeypatch.delenv("C4U_TEST_KEY", raising=False)
    pairs = pairs_subset(3)
    srv = server(pairs, model_dir=tiny_model_dir)
    out = tmp_path / "cot.jsonl"
    config = cfg(pairs, out, srv.url, retries=1, temperature=0.0, max_new_tokens=10, orders="both")
    summary = annotate_pairs(config)
    rejected = {r["id"]: r for r in records(rejects_path(out))}
    assert summary["rejected"] == 3 and sorted(rejected) == sorted(p.id for p in load_pairs(pairs))

    local = LocalAnnotator(dataclasses.replace(config, annotator=str(tiny_model_dir), backend="auto"))
    log = srv.requests()
    assert len(log) == 3 * 2 * 2  # pairs x orders x (first try + one retry)
    for pair in load_pairs(pairs):
        reqs = requests_for(pair, config)
        for req, text in zip(reqs, local.complete(reqs, seed=0)):
            (prompt,) = _prompts(local.generator.processor, [req.row], [req.messages()])
            sha = hashlib.sha256(prompt.encode()).hexdigest()
            assert [r["prompt_sha"] for r in log if (r["pair"], r["order"]) == (pair.id, req.order)] == [sha, sha]
            assert rejected[pair.id]["last_output"][req.order] == text[:2000]


def test_ba_order_alone_is_kept_in_the_ab_frame(six_pairs, server, tmp_path, monkeypatch):
    monkeypatch.delenv("C4U_TEST_KEY", raising=False)
    srv = server(six_pairs)
    out = tmp_path / "cot.jsonl"
    annotate_pairs(cfg(six_pairs, out, srv.url, orders="BA"))
    truth = {p.id: p for p in load_pairs(six_pairs)}
    recs = records(out)
    assert len(recs) == 6 and {r["order"] for r in srv.requests()} == {"BA"}
    for r in recs:
        assert r["annotation"]["order"] == "BA" and r["annotation"]["orders"] == ["BA"]
        assert r["rationale"] == truth[r["id"]].rationale  # the BA answer, written back for A-then-B
