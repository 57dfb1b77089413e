"""No telemetry: OpenVINO and NNCF, run by the runtime and the exporter, send nothing and write nothing into HOME.

Each check runs in a fresh interpreter with HOME pointed at an empty folder, every socket connection
and name lookup refused (and recorded), and the CI variables that make openvino_telemetry stay quiet
on its own removed. ONNX Runtime is kept out of that interpreter: the openvino backend needs none of
it, and its own telemetry (a device id under ~/.cache, onnxruntime >= 1.32) is not OpenVINO's. The
control shows what the guard prevents: OpenVINO imported without it writes a client id and usage
counts into HOME on its first model conversion.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from openvino_support import needs_openvino

pytestmark = needs_openvino

NETWORK_GUARD = """
import json, socket, sys
attempts = []
def refuse(*args, **kwargs):
    attempts.append(repr(args[1:3]))
    raise OSError("network refused by the test")
socket.socket.connect = socket.socket.connect_ex = refuse
socket.create_connection = socket.getaddrinfo = refuse
"""
TINY_ONNX = """
import numpy as np, onnx
from onnx import TensorProto, helper, numpy_helper
w = numpy_helper.from_array(np.arange(64, dtype=np.float32).reshape(8, 8) / 64, "w")
graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 8])], [w])
onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), "tiny.onnx")
feeds = [{"x": np.random.default_rng(i).standard_normal((4, 8)).astype(np.float32)} for i in range(4)]
"""


def _run(code: str, home, cwd) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "TF_BUILD", "JENKINS_URL", "NNCF_CI", "NNCF_DEV")}
    r = subprocess.run([sys.executable, "-c", code], env={**env, "HOME": str(home)}, cwd=cwd, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout.strip().splitlines()[-1]


def test_runtime_and_export_send_and_write_nothing(tiny_export, synth_pairs_file, tmp_path):
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    code = NETWORK_GUARD + TINY_ONNX + f"""
import time
sys.modules["onnxruntime"] = None
from creative4u_small.contract.pairs import load_pairs
from creative4u_small.runtime import Selector
from creative4u_small.export import openvino_ir
p = load_pairs({str(synth_pairs_file)!r})[0]
sel = Selector.load({str(tiny_export)!r}, backend="openvino", precision="int8", threads=1)
sel.compare(p.image_a, p.image_b, p.query, p.title, explain=True)
openvino_ir.convert("tiny.onnx", "tiny.xml")          # openvino.convert_model: the OVC telemetry path
openvino_ir.quantize_ir("tiny.xml", "tiny.int8.xml", feeds)  # nncf.quantize: NNCF's telemetry path
openvino_ir.compress_ir("tiny.xml", "tiny.w8.xml")
time.sleep(1)  # telemetry is sent from threads
print(json.dumps({{"attempts": attempts, "module": repr(sys.modules["openvino_telemetry"]),
                  "status": sel.describe()["openvino"]}}))
"""
    out = json.loads(_run(code, home, work))
    assert out["attempts"] == [] and out["module"] == "None"
    assert out["status"]["telemetry"] == "off"
    assert list(home.rglob("*")) == []
    assert (work / "tiny.int8.xml").is_file()


def test_control_without_the_guard_openvino_writes_into_home(tmp_path):
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    code = NETWORK_GUARD + TINY_ONNX + """
import openvino as ov
ov.convert_model("tiny.onnx")
print(json.dumps({"attempts": attempts}))
"""
    _run(code, home, work)
    assert (home / "intel").is_dir() and list((home / "intel").iterdir()), "openvino_telemetry no longer writes into HOME"
