"""Session-scoped fixtures: tiny models and synthetic pairs built once per test run."""

from __future__ import annotations

import pytest
from openvino_support import HAVE_OPENVINO


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A random-initialised `tiny` preset saved in Hugging Face format (read-only for tests)."""
    from creative4u_small.modeling.model_init import init_model

    out = tmp_path_factory.mktemp("models") / "tiny"
    init_model("tiny", out, seed=0)
    return out


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory):
    """60 synthetic pairs at 64 px (read-only for tests; copy before changing)."""
    from creative4u_small.data.synth import synthesize

    out = tmp_path_factory.mktemp("synth") / "data"
    synthesize(60, out, seed=1, image_size=64)
    return out


@pytest.fixture(scope="session")
def synth_pairs_file(synth_dir):
    return synth_dir / "pairs.jsonl"


@pytest.fixture(scope="session")
def pairs_subset(synth_pairs_file, tmp_path_factory):
    """``pairs_subset(n)``: the first n synthetic pairs in a file of their own (image paths made absolute)."""
    import json

    def make(n: int):
        out = tmp_path_factory.mktemp("subset") / "pairs.jsonl"
        lines = []
        for text in synth_pairs_file.read_text().splitlines()[:n]:
            rec = json.loads(text)
            for k in ("image_a", "image_b"):
                rec[k] = str(synth_pairs_file.parent / rec[k])
            lines.append(json.dumps(rec))
        out.write_text("\n".join(lines) + "\n")
        return out

    return make


@pytest.fixture(scope="session")
def image_gone(tmp_path_factory):
    """``image_gone(pairs_file, index, field)``: a copy of the file whose line ``index`` (0-based) names a missing image."""
    import json

    def make(src, index: int, field: str):
        folder = tmp_path_factory.mktemp("bad")
        lines = src.read_text().splitlines()
        rec = json.loads(lines[index])
        rec[field] = str(folder / "gone.png")
        lines[index] = json.dumps(rec)
        (folder / "bad.jsonl").write_text("\n".join(lines) + "\n")
        return folder / "bad.jsonl"

    return make


@pytest.fixture(scope="session")
def tiny_export(tiny_model_dir, tmp_path_factory):
    """One tiny export (fp32 + INT8, decoder graphs, OpenVINO IR where openvino is installed) per session, built with
    `c4u export`'s function; shared by tests/runtime and tests/serve (tests/export has its own). No engine timing, so
    backend auto keeps its fixed order whatever the machine's load. Read-only: copy it (``shutil.copytree``) before
    tampering."""
    from creative4u_small.export.export_config import ExportConfig
    from creative4u_small.export.exporter import run_export

    out = tmp_path_factory.mktemp("exports") / "tiny"
    run_export(ExportConfig(model=tiny_model_dir, out=out, int8=True, openvino=HAVE_OPENVINO, calib_pairs=12,
                            int8_min_weights=0, timing_runs=0, shift_pairs=8))  # every weight INT8
    return out


@pytest.fixture(scope="session")
def tiny_selector(tiny_export):
    """The tiny export in-process (auto backend cpu, one thread): also the reference tests/serve compares with."""
    from creative4u_small.runtime import Selector

    return Selector.load(tiny_export, backend="cpu", threads=1)


@pytest.fixture(scope="session")
def synth_pairs(synth_pairs_file):
    from creative4u_small.contract.pairs import load_pairs

    return load_pairs(synth_pairs_file)


# Hub-shaped checkpoints (tests/hub_models.py): each family's real config, processor and tokenizer files,
# shrunk random weights. Read-only for tests; copy before changing.
@pytest.fixture(scope="session")
def hub_qwen25vl(tmp_path_factory):
    from hub_models import build_qwen25vl

    return build_qwen25vl(tmp_path_factory.mktemp("hub") / "Qwen2.5-VL-3B-Instruct")


@pytest.fixture(scope="session")
def hub_qwen3vl(tmp_path_factory):
    from hub_models import build_qwen3vl

    return build_qwen3vl(tmp_path_factory.mktemp("hub") / "Qwen3-VL-2B-Instruct")


@pytest.fixture(scope="session")
def hub_smolvlm(tmp_path_factory):
    from hub_models import build_smolvlm

    return build_smolvlm(tmp_path_factory.mktemp("hub") / "SmolVLM-256M-Instruct")


@pytest.fixture(scope="session")
def hub_smolvlm2(tmp_path_factory):
    from hub_models import build_smolvlm2

    return build_smolvlm2(tmp_path_factory.mktemp("hub") / "SmolVLM2-256M-Video-Instruct")


@pytest.fixture(scope="session")
def ray_cluster():
    """A two-node Ray cluster on this machine (``ray.cluster_utils.Cluster``: two raylets of 1 CPU each, every process on
    127.0.0.1, session files in a temp folder, nothing under HOME); yields its address. Skipped with the reason where
    the ray extra is missing or Ray cannot start here."""
    from creative4u_small.scale.ray_cluster import import_ray, local_ray_env

    try:
        import_ray()
    except ImportError as e:
        pytest.skip(str(e))
    from ray.cluster_utils import Cluster

    with local_ray_env():
        try:
            cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
            cluster.add_node(num_cpus=1)
            cluster.wait_for_nodes()
        except Exception as e:  # noqa: BLE001 - whatever keeps Ray from starting is the skip reason
            pytest.skip(f"a local Ray cluster cannot start here: {type(e).__name__}: {e}")
        yield cluster.address
        cluster.shutdown()
