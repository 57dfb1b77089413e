"""`c4u serve --backend openvino`: the server runs the export's OpenVINO IR and says so at /v1/model."""

from __future__ import annotations

import httpx
from conftest import ServerProcess
from openvino_support import needs_openvino

from creative4u_small.runtime import manifest as mf

pytestmark = needs_openvino


def test_serve_runs_and_reports_the_openvino_backend(serve_export, synth_pairs_file, tmp_path):
    from creative4u_small.contract.pairs import load_pairs

    server = ServerProcess(serve_export, tmp_path / "serve.log", "--backend", "openvino", "--precision", "int8", "--device", "CPU")
    try:
        server.wait_ready()
        model = httpx.get(server.url + "/v1/model", timeout=10).json()
        assert model["precision"] == "int8" and model["selector"]["backend"] == "openvino"
        assert model["selector"]["backend_reason"] == "backend openvino asked for"
        judge = model["selector"]["graphs"][mf.JUDGE]
        assert judge["key"] == f"{mf.JUDGE}.{mf.OPENVINO_INT8}" and judge["device"] == "CPU"
        p = load_pairs(synth_pairs_file)[0]
        r = httpx.post(server.url + "/v1/compare", files={"image_a": p.image_a.read_bytes(), "image_b": p.image_b.read_bytes()},
                       data={"query": p.query, "title": p.title}, timeout=30)
        assert r.status_code == 200 and r.json()["winner"] in ("A", "B")
    finally:
        server.stop()
