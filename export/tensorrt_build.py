"""TensorRT engines from the QDQ graphs, written against the API TensorRT 10 and 11 share.

Networks are strongly typed (``NetworkDefinitionCreationFlag.STRONGLY_TYPED``): precision comes
from the graph's explicit Q/DQ nodes, never from builder precision flags or an implicit INT8
calibrator (deprecated in 10.1, removed in 11). Profiles over rows and sequence length are pure
functions (tested without a GPU); engines are named for the TensorRT version and GPU they were
built for, because an engine only runs there. Without ``tensorrt`` or a CUDA GPU the build stops
with one line saying what is missing; no engine file is written unless the build succeeded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from creative4u_small.contract import protocol
from creative4u_small.export.export_config import ExportConfig
from creative4u_small.export.export_run import ExportRun
from creative4u_small.runtime import manifest as mf
from creative4u_small.runtime.engines.tensorrt_engine import TrtGraph

Shape = tuple[int, ...]
TIMING_CACHE_FILE = "trt_timing.cache"


class TensorRTUnavailable(RuntimeError):
    """TensorRT cannot build here; the message names what is missing."""


@dataclass(frozen=True)
class Profile:
    """min/opt/max shape of every dynamic input of one graph."""

    shapes: dict[str, tuple[Shape, Shape, Shape]]

    def __post_init__(self):
        for name, (lo, opt, hi) in self.shapes.items():
            if not (len(lo) == len(opt) == len(hi)):
                raise ValueError(f"profile {name}: min/opt/max ranks differ ({lo}, {opt}, {hi})")
            if any(not (a <= b <= c) for a, b, c in zip(lo, opt, hi)):
                raise ValueError(f"profile {name}: need min <= opt <= max per axis, got {lo}, {opt}, {hi}")
            if any(a < 1 for a in lo):
                raise ValueError(f"profile {name}: every dimension must be at least 1, got {lo}")

    def to_dict(self) -> dict:
        return {k: {"min": list(v[0]), "opt": list(v[1]), "max": list(v[2])} for k, v in self.shapes.items()}


def _opt(lo: int, hi: int, typical: int) -> int:
    return max(lo, min(hi, typical))


def vision_profile(image_size: int, max_images: int, opt_images: int = 2) -> Profile:
    return Profile({mf.VISION_INPUTS[0]: ((1, 3, image_size, image_size), (_opt(1, max_images, opt_images), 3, image_size, image_size),
                                          (max_images, 3, image_size, image_size))})


def judge_profile(min_seq: int, max_seq: int, image_seq_len: int, hidden: int, max_rows: int, opt_rows: int = 2,
                  opt_seq: int | None = None) -> Profile:
    """Rows = pairs x orders (opt 2: one pair, both orders); sequence from the fixed prompt to ``max_seq``."""
    if max_seq < min_seq:
        raise ValueError(f"max sequence {max_seq} is shorter than the fixed prompt ({min_seq} tokens)")
    rows = _opt(1, max_rows, opt_rows)
    seq = _opt(min_seq, max_seq, opt_seq or min_seq + 16)
    ids = ((1, min_seq), (rows, seq), (max_rows, max_seq))
    emb = ((1, 2 * image_seq_len, hidden), (rows, 2 * image_seq_len, hidden), (max_rows, 2 * image_seq_len, hidden))
    return Profile({mf.JUDGE_INPUTS[0]: ids, mf.JUDGE_INPUTS[1]: ids, mf.JUDGE_INPUTS[2]: emb})


def engine_file_name(graph_key: str, trt_version: str, gpu_name: str) -> str:
    """e.g. ``judge.int8-qdq.trt10.3.0.nvidia-a10g.plan``: an engine runs only on that TensorRT and GPU."""
    gpu = re.sub(r"[^a-z0-9]+", "-", gpu_name.lower()).strip("-") or "gpu"
    return f"{graph_key}.trt{trt_version}.{gpu}.plan"


def ort_trt_provider_options(profiles: dict[str, Profile], cache_dir: str = "trt_cache", workspace_mb: int = 4096) -> dict:
    """The equivalent ONNX Runtime TensorRT-EP settings per graph (QDQ graphs, explicit INT8)."""

    def fmt(profile: Profile, i: int) -> str:
        return ",".join(f"{name}:{'x'.join(str(d) for d in dims[i])}" for name, dims in profile.shapes.items())

    return {
        key: {
            "trt_int8_enable": True,  # lets TensorRT honour the graph's explicit Q/DQ nodes
            "trt_fp16_enable": False,
            "trt_engine_cache_enable": True,
            "trt_engine_cache_path": cache_dir,
            "trt_timing_cache_enable": True,
            "trt_timing_cache_path": cache_dir,
            "trt_max_workspace_size": workspace_mb << 20,
            "trt_profile_min_shapes": fmt(p, 0),
            "trt_profile_opt_shapes": fmt(p, 1),
            "trt_profile_max_shapes": fmt(p, 2),
        }
        for key, p in profiles.items()
    }


def check_tensorrt():
    """(tensorrt module, GPU name), or TensorRTUnavailable naming what is missing."""
    try:
        import tensorrt as trt
    except ImportError:
        raise TensorRTUnavailable(
            "--trt needs the `tensorrt` Python package (pip install 'creative4u-small[trt]') on a machine with an NVIDIA GPU; "
            "it is not installed here — export without --trt, or run on a GPU host"
        ) from None
    gpu = _gpu_name()
    if gpu is None:
        raise TensorRTUnavailable("--trt needs a CUDA GPU and none is visible (torch.cuda.is_available() is False); "
                                  "TensorRT engines can only be built on the GPU they will run on")
    return trt, gpu


def _gpu_name() -> str | None:
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    return torch.cuda.get_device_name(0)


def build_engine(trt, onnx_path: Path, profile: Profile, engine_path: Path, timing_cache: Path, workspace_mb: int = 4096) -> Path:
    """Parse ``onnx_path`` into a strongly typed network and serialise an engine with one profile."""
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise RuntimeError(f"TensorRT cannot parse {Path(onnx_path).name}: {errors or 'unknown parser error'}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_mb << 20)
    opt_profile = builder.create_optimization_profile()
    names = {network.get_input(i).name for i in range(network.num_inputs)}
    missing = set(profile.shapes) - names
    if missing:
        raise ValueError(f"profile names {sorted(missing)} are not inputs of {Path(onnx_path).name} ({sorted(names)})")
    for name, (lo, opt, hi) in profile.shapes.items():
        opt_profile.set_shape(name, lo, opt, hi)
    config.add_optimization_profile(opt_profile)
    cache_bytes = Path(timing_cache).read_bytes() if Path(timing_cache).is_file() else b""
    cache = config.create_timing_cache(cache_bytes)
    config.set_timing_cache(cache, False)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise RuntimeError(f"TensorRT failed to build an engine from {Path(onnx_path).name}; see the TensorRT log above")
    tmp = Path(engine_path).with_name(Path(engine_path).name + ".tmp")
    tmp.write_bytes(bytes(serialized))
    tmp.replace(engine_path)
    Path(timing_cache).write_bytes(bytes(config.get_timing_cache().serialize()))
    return Path(engine_path)


def build_engines(out_dir: Path, sources: dict[str, tuple[str, Path]], profiles: dict[str, Profile], workspace_mb: int) -> dict:
    """Build one engine per role (``sources``: role -> (graph key, ONNX path)); returns the manifest's ``tensorrt`` section."""
    trt, gpu = check_tensorrt()
    engines = {}
    cache = Path(out_dir) / TIMING_CACHE_FILE
    for role, (graph_key, onnx_path) in sources.items():
        name = engine_file_name(graph_key, trt.__version__, gpu)
        build_engine(trt, onnx_path, profiles[role], Path(out_dir) / name, cache, workspace_mb)
        engines[role] = {"file": name, "graph": graph_key, "profile": profiles[role].to_dict()}
    return {"version": trt.__version__, "gpu": gpu, "strongly_typed": True, "timing_cache": TIMING_CACHE_FILE,
            "engines": engines}


class EngineVerdictDriver:
    """The verdict path on the vision and judge engines (same interface as ``parity.OrtVerdictDriver``),
    run by the runtime's own engine runner, so parity checks the code users run."""

    def __init__(self, export_dir: Path, section: dict):
        engines = section["engines"]
        self.vision = TrtGraph(Path(export_dir) / engines[mf.VISION]["file"])
        self.judge = TrtGraph(Path(export_dir) / engines[mf.JUDGE]["file"])

    def logits(self, input_ids, attention_mask, pixel_values, image_index):
        import numpy as np

        emb = self.vision.run({mf.VISION_INPUTS[0]: pixel_values})[mf.VISION_OUTPUTS[0]]
        index = np.asarray(image_index)
        rows = emb[index].reshape(index.shape[0], -1, emb.shape[-1])
        feeds = dict(zip(mf.JUDGE_INPUTS, (input_ids, attention_mask, rows)))
        return self.judge.run(feeds)[mf.JUDGE_OUTPUTS[0]]


def fixed_prompt_len(spec: mf.PromptSpec) -> int:
    """Tokens of the judge prompt with both slots empty (the shortest prompt)."""
    return sum(len(p["ids"]) for p in spec.pieces if "ids" in p) + 2 * len(spec.image_block_ids)


def trt_profiles(cfg: ExportConfig, spec: mf.PromptSpec, dims: mf.ModelDims, image_size: int) -> dict:
    """Vision and judge profiles: rows up to trt_max_rows, sequence from the fixed prompt to trt_max_seq."""
    lo = fixed_prompt_len(spec)
    hi = cfg.trt_max_seq or lo + sum(spec.slot_budget(name) for name in protocol.SLOTS)
    return {
        mf.VISION: vision_profile(image_size, cfg.trt_max_images),
        mf.JUDGE: judge_profile(lo, hi, dims.image_seq_len, dims.hidden_size, cfg.trt_max_rows),
    }


def build_export_engines(run: ExportRun) -> dict:
    """Engines from the run's QDQ graphs with the export's profiles; returns the manifest's ``tensorrt`` section."""
    cfg = run.cfg
    profiles = trt_profiles(cfg, run.spec, run.dims, run.pre.image_size)
    sources = {g: (f"{g}.int8-qdq", run.file(f"{g}.int8-qdq")) for g in (mf.VISION, mf.JUDGE)}
    run.progress("TensorRT engines", 0, len(sources))
    section = build_engines(run.tmp, sources, profiles, cfg.trt_workspace_mb)
    section["onnxruntime_ep"] = ort_trt_provider_options({sources[r][0]: p for r, p in profiles.items()},
                                                           workspace_mb=cfg.trt_workspace_mb)
    return section
