"""The real server agrees with the in-process Selector, and its health, model, metrics and docs answer."""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from conftest import TOKEN

TOL = 1e-6


def test_compare_agrees_with_the_in_process_selector(client, tiny_selector, synth_pairs):
    for p in synth_pairs[:4]:
        want = tiny_selector.compare(p.image_a, p.image_b, p.query, p.title)
        got = client.compare(p.image_a, p.image_b, p.query, p.title)
        assert got["winner"] == want.winner
        assert abs(got["p_a"] - want.p_a) <= TOL
        assert got["p_a_orders"] == pytest.approx(list(want.p_a_orders), abs=TOL)
        assert got["consistent"] == want.consistent
        assert got["request_id"] and got["server"]["batch_pairs"] >= 1


def test_compare_accepts_json_with_base64_images(server, tiny_selector, synth_pairs):
    p = synth_pairs[5]
    body = {"image_a": base64.b64encode(p.image_a.read_bytes()).decode(), "image_b": base64.b64encode(p.image_b.read_bytes()).decode(),
            "query": p.query, "title": p.title}
    r = httpx.post(server.url + "/v1/compare", json=body, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    assert r.status_code == 200, r.text
    assert abs(r.json()["p_a"] - tiny_selector.compare(p.image_a, p.image_b, p.query, p.title).p_a) <= TOL


def test_compare_with_explain_returns_the_same_rationale(client, tiny_selector, synth_pairs):
    p = synth_pairs[6]
    want = tiny_selector.compare(p.image_a, p.image_b, p.query, p.title, explain=True)
    got = client.compare(p.image_a, p.image_b, p.query, p.title, explain=True)
    assert got["rationale"] == want.rationale and abs(got["p_a"] - want.p_a) <= TOL
    assert got["explanation"] == want.explanation.to_dict() and got["explanation"]["text"] == want.rationale
    assert not client.compare(p.image_a, p.image_b, p.query, p.title)["explanation"]  # only when asked


def test_rank_agrees_with_the_in_process_selector(client, tiny_selector, synth_pairs):
    images = [synth_pairs[i].image_a for i in range(7, 12)] + [synth_pairs[i].image_b for i in range(7, 10)]
    want = tiny_selector.rank(images, "trail shoes", "a title", top_k=3)
    got = client.rank(images, "trail shoes", "a title", top_k=3)
    assert got["order"] == want.order
    assert len(got["comparisons"]) == len(want.comparisons)
    for c, w in zip(got["comparisons"], want.comparisons):
        assert (c["a"], c["b"]) == (w.i, w.j) and abs(c["p_a"] - w.p_i) <= TOL
    assert [got["scores"][str(i)] for i in range(len(images))] == pytest.approx(want.scores, abs=1e-5)
    assert got["names"] == [p.name for p in images]


def test_health_ready_model_metrics_and_docs(server, client):
    assert client.healthy() and client.ready()
    model = client.model()
    assert model["precision"] == "fp32" and model["selector"]["backend"] == "cpu"
    assert model["model"]["model_type"] and "fp32" in model["parity"] and model["status"]
    text = client.metrics()
    for name in ("c4u_requests_total", "c4u_request_seconds_bucket", "c4u_stage_seconds_count{stage=\"judge\"}", "c4u_stage_seconds_count{stage=\"decode\"}",
                 "c4u_batch_pairs_bucket", "c4u_queue_depth", "c4u_ready 1.0"):
        assert name in text, name
    assert httpx.get(server.url + "/docs", timeout=10).status_code == 200
    spec = httpx.get(server.url + "/openapi.json", timeout=10).json()
    assert {"/v1/compare", "/v1/rank", "/v1/model", "/healthz", "/readyz", "/metrics"} <= set(spec["paths"])
    assert "multipart/form-data" in spec["paths"]["/v1/compare"]["post"]["requestBody"]["content"]

    def resolve(node: dict) -> dict:
        """Follow a ``$ref`` (or the one non-null branch of an optional field) to the schema it names."""
        if "$ref" in node:
            return resolve(spec["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]])
        branches = [b for b in node.get("anyOf", []) if b.get("type") != "null"]
        return resolve(branches[0]) if len(branches) == 1 else node

    answer = resolve(spec["paths"]["/v1/compare"]["post"]["responses"]["200"]["content"]["application/json"]["schema"])
    assert {"parsed", "protocol", "q10_matches_verdict", "error", "text"} <= set(resolve(answer["properties"]["explanation"])["properties"])


def test_request_id_is_echoed_and_logged(server, client, synth_pairs):
    p = synth_pairs[0]
    got = client.compare(p.image_a, p.image_b, p.query, p.title, request_id="trace-abc-123")
    assert got["request_id"] == "trace-abc-123"
    lines = [json.loads(line) for line in server.log().splitlines() if '"request_id": "trace-abc-123"' in line]
    assert len(lines) == 1 and lines[0]["status"] == 200 and lines[0]["path"] == "/v1/compare" and lines[0]["batch_pairs"] >= 1


def test_rank_accepts_json_with_base64_images(server, tiny_selector, synth_pairs):
    images = [synth_pairs[i].image_a for i in range(12, 16)]
    body = {"images": [base64.b64encode(p.read_bytes()).decode() for p in images], "query": "q", "top_k": 2}
    r = httpx.post(server.url + "/v1/rank", json=body, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["order"] == tiny_selector.rank(images, "q", top_k=2).order
