"""The export manifest: what the exporter writes and the runtime reads.

The runtime knows an export folder only through this file: graph files and their input/output names,
preprocessing constants, the judge prompt as token pieces, verdict token ids, precisions, parity figures
and file hashes. Names and fields are defined here once; the exporter imports them to write, the runtime
to read. The exporter also runs the runtime (Selector, the parity probe, TensorRT engines) to check what it
wrote: that is a check of the export, not a second contract. Torch-free.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from creative4u_small.contract import protocol
from creative4u_small.contract.artifacts import load_json

FORMAT_VERSION = 4  # 2: parity probe, machine, quantization settings per graph; 3: graph optimization, fp16; 4: shift gate, timing
READABLE_VERSIONS = (2, 3, 4)  # older manifests read as ones without what came later (no shift gate: auto picks no INT8)
MANIFEST_FILE = "manifest.json"
TOKENIZER_FILE = "tokenizer.json"
PARITY_FILE = "parity.md"
PROBE_FILE = "probe.npz"

# vision: pixel_values [N, 3, S, S] float32 -> image_embeds [N, image_seq_len, hidden]
VISION = "vision"
VISION_INPUTS = ("pixel_values",)
VISION_OUTPUTS = ("image_embeds",)

# judge: one prefill, no cache. Rows are pairs x orders, left padded.
#   input_ids [R, L] int64, attention_mask [R, L] int64,
#   image_embeds [R, 2 * image_seq_len, hidden] (Creative A's rows, then Creative B's)
#   -> verdict_logits [R, 2] (A, B) at the last position
JUDGE = "judge"
JUDGE_INPUTS = ("input_ids", "attention_mask", "image_embeds")
JUDGE_OUTPUTS = ("verdict_logits",)

# judge_extend: the judge prompt continued from a cached prefix (``SelectorConfig.prefix_reuse``). Rows unpadded.
#   input_ids [R, T] int64, image_embeds [R, N, hidden] (the images whose tokens are among the T, in order; one
#   ignored row where none are), past.* [R, kv_heads, P, head_dim] (P = 0 for the first part)
#   -> verdict_logits [R, 2] at the last position, present.* [R, kv_heads, P + T, head_dim]
JUDGE_EXTEND = "judge_extend"
JUDGE_EXTEND_INPUTS = ("input_ids", "image_embeds")

# decoder_prefill: same inputs as judge -> logits [R, vocab] at the last position + the cache
# decoder_step: input_ids [R, 1], attention_mask [R, P + 1], past.* -> logits [R, vocab] + present.*
DECODER_PREFILL = "decoder_prefill"
DECODER_STEP = "decoder_step"
PREFILL_INPUTS = JUDGE_INPUTS
STEP_INPUTS = ("input_ids", "attention_mask")
LOGITS_OUTPUT = "logits"


def past_names(num_layers: int) -> list[str]:
    return [f"past.{i}.{kv}" for i in range(num_layers) for kv in ("key", "value")]


def present_names(num_layers: int) -> list[str]:
    return [f"present.{i}.{kv}" for i in range(num_layers) for kv in ("key", "value")]


# probe.npz: a few held-out inputs of every graph and the fp32 graphs' outputs on the export machine.
# Rows are pairs x orders (AB, BA), as the judge takes them; image_index [rows, 2] picks each row's
# Creative A and B from pixel_values; the step continues each row with the fp32 prefill's greedy token.
PROBE_INPUTS = ("pixel_values", "image_index", "input_ids", "attention_mask", "step_input_ids")
PROBE_REFERENCES = ("image_embeds", "verdict_logits", "prefill_logits", "step_logits")

GRAPHS = (VISION, JUDGE, JUDGE_EXTEND, DECODER_PREFILL, DECODER_STEP)
# OpenVINO IR of a graph (`c4u export --openvino`): "<graph>.openvino" (fp32) and "<graph>.openvino-int8" (NNCF),
# each an .xml file whose weights sit beside it in an .bin file of the same name.
OPENVINO_FP32 = "openvino"
OPENVINO_INT8 = "openvino-int8"
PRECISIONS = ("fp32", "fp16", "int8", "int8-qdq")
PARITY_STATES = ("passed", "unverified", "failed")


class ManifestError(ValueError):
    """A manifest or export folder the runtime cannot trust, with the fix."""


@dataclass
class GraphEntry:
    file: str
    inputs: dict[str, dict]  # name -> {"dtype": str, "shape": [int | str]}
    outputs: dict[str, dict]
    precision: str = "fp32"
    exporter: str = ""  # "dynamo" | "torchscript" | "onnxruntime.quantization" (how the file was made)
    source: str = ""  # for a quantized graph: the key of the graph it was made from
    quantization: dict = field(default_factory=dict)  # for a quantized graph: the settings and why
    optimization: dict = field(default_factory=dict)  # graph fusions applied (export/fuse.py), or why none


@dataclass
class Preprocessing:
    image_size: int
    resample: int  # PIL resample filter id
    rescale_factor: float
    image_mean: list[float]
    image_std: list[float]
    do_normalize: bool = True
    longest_edge: int | None = None


@dataclass
class PromptSpec:
    """The judge prompt as pieces: {"ids": [...]}, {"slot": "query"|"title"}, {"image": "A"|"B"}.

    Slot text is ``protocol.slot(value)`` tokenised without special tokens; each image piece
    becomes ``image_block_ids`` (its ``image_token_id`` entries take the image embeddings).
    ``max_slot_tokens`` is the runtime's token budget per slot, set at export from what the model
    was trained on (absent in older manifests: ``protocol.SLOT_TOKEN_BUDGET``).
    """

    pieces: list[dict]
    image_block_ids: list[int]
    image_token_id: int
    pad_token_id: int
    verdict_token_ids: list[int]
    answer_close_ids: list[int]
    eos_token_ids: list[int]
    max_slot_tokens: dict[str, int] = field(default_factory=dict)  # "query"/"title" -> token budget

    def slot_budget(self, name: str) -> int:
        return int(self.max_slot_tokens.get(name, protocol.SLOT_TOKEN_BUDGET))

    def assemble_ids(self, encode, query: str | None, title: str | None) -> list[int]:
        """The judge prompt ids for one pair; ``encode(text) -> ids`` tokenises a slot (no budget applied)."""
        slots = {"query": query, "title": title}
        return self.assemble({k: list(encode(protocol.slot(v))) if protocol.slot(v) else [] for k, v in slots.items()})

    def assemble(self, slot_ids: dict[str, list[int]]) -> list[int]:
        """The judge prompt ids from each slot's ids. Export and runtime both build prompts with it."""
        ids: list[int] = []
        for piece in self.pieces:
            if "ids" in piece:
                ids += piece["ids"]
            elif "slot" in piece:
                ids += slot_ids[piece["slot"]]
            else:
                ids += self.image_block_ids
        return ids


@dataclass
class ModelDims:
    image_seq_len: int
    hidden_size: int
    num_layers: int
    num_kv_heads: int
    head_dim: int
    vocab_size: int


@dataclass
class Manifest:
    format_version: int
    source_model: dict  # {"path", "sha256", "model_type"}
    versions: dict
    graphs: dict[str, GraphEntry]  # "vision", "judge", "decoder_prefill", "decoder_step", "+int8" variants
    preprocessing: Preprocessing
    prompt: PromptSpec
    dims: ModelDims
    parity: dict = field(default_factory=dict)  # precision -> figures and status
    status: str = "unverified"
    tensorrt: dict = field(default_factory=dict)
    machine: dict = field(default_factory=dict)  # creative4u_small.contract.cpu_info.cpu_info() of the exporting machine
    probe: dict = field(default_factory=dict)  # {"file", "rows", "floors": {precision: {...}}, "export_machine": {...}}
    shift: dict = field(default_factory=dict)  # {"pairs", "ceilings", "variants": {parity key: figures + status}} (export/shift_gate.py)
    timing: dict = field(default_factory=dict)  # {"compare_ms": {parity key: median ms}, "threads", "machine"} (export/engine_timing.py)
    files: dict[str, str] = field(default_factory=dict)  # relative path -> sha256

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict, where: str = MANIFEST_FILE) -> "Manifest":
        version = d.get("format_version")
        if not isinstance(version, int):
            raise ManifestError(f"{where}: no integer format_version; re-export with `c4u export`")
        if version > FORMAT_VERSION:
            raise ManifestError(
                f"{where}: format_version {version} is newer than this runtime reads ({FORMAT_VERSION}); upgrade creative4u-small"
            )
        if version not in READABLE_VERSIONS:
            raise ManifestError(f"{where}: format_version {version} is older than this runtime reads ({READABLE_VERSIONS[0]}); re-export with `c4u export`")
        try:
            return cls(
                format_version=version,
                source_model=d["source_model"],
                versions=d.get("versions", {}),
                graphs={k: GraphEntry(**v) for k, v in d["graphs"].items()},
                preprocessing=Preprocessing(**d["preprocessing"]),
                prompt=PromptSpec(**d["prompt"]),
                dims=ModelDims(**d["dims"]),
                parity=d.get("parity", {}),
                status=d.get("status", "unverified"),
                tensorrt=d.get("tensorrt", {}),
                machine=d.get("machine", {}),
                probe=d.get("probe", {}),
                shift=d.get("shift", {}),
                timing=d.get("timing", {}),
                files=d.get("files", {}),
            )
        except (KeyError, TypeError) as e:
            raise ManifestError(f"{where}: malformed manifest ({e}); re-export with `c4u export`") from None


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def read_manifest(export_dir: Path, verify_hashes: bool = True) -> Manifest:
    """Load and check a manifest: format version, every listed file present, hashes matching."""
    export_dir = Path(export_dir)
    path = export_dir / MANIFEST_FILE
    if not path.is_file():
        raise ManifestError(f"{path}: not found; is {export_dir} an export folder written by `c4u export`?")
    manifest = Manifest.from_dict(load_json(path, "re-export with `c4u export`", ManifestError), str(path))
    for rel, digest in manifest.files.items():
        f = export_dir / rel
        if not f.is_file():
            raise ManifestError(f"{f}: listed in the manifest but missing; copy the whole export folder or re-export")
        if verify_hashes and sha256_file(f) != digest:
            raise ManifestError(f"{f}: sha256 does not match the manifest (file changed or corrupt); re-export or restore it")
    return manifest


def write_manifest(export_dir: Path, manifest: Manifest) -> Path:
    """Hash every file in the folder (except the manifest) into ``files`` and write atomically."""
    export_dir = Path(export_dir)
    manifest.files = {
        str(p.relative_to(export_dir)): sha256_file(p)
        for p in sorted(export_dir.rglob("*"))
        if p.is_file() and p.name != MANIFEST_FILE and not p.name.endswith(".tmp")
    }
    path = export_dir / MANIFEST_FILE
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(manifest.to_dict(), indent=2) + "\n")
    tmp.replace(path)
    return path
