"""OpenVINO: the export's IR graphs on a CPU, an Intel GPU or an NPU, with no telemetry.

OpenVINO and NNCF report usage through ``openvino_telemetry`` unless the user opted out with
``opt_in_out --opt_out`` (a consent file under ``$HOME/intel``); without that file their first use
writes a client id and usage counts there and queues reports to Google Analytics. ``import openvino``
already imports it (through ``openvino.tools.ovc``). Both packages fall back to a stub of their own
when ``openvino_telemetry`` cannot be imported, so ``disable_telemetry`` makes it unimportable in this
process before anything imports openvino: nothing is sent and nothing is written outside the
project's folders, whatever the user's home holds.

``openvino`` is imported lazily (``pip install "creative4u-small[openvino]"``); without it this
module still imports and the backend is simply not available. Torch-free.
"""

from __future__ import annotations

import logging
import platform
import queue
import threading

import numpy as np

from creative4u_small.contract import telemetry
from creative4u_small.runtime import manifest as mf
from creative4u_small.runtime.engines import openvino_decoder
from creative4u_small.runtime.engines.engine import BackendError, Engine

TELEMETRY_MODULE = "openvino_telemetry"
DEVICES = ("CPU", "GPU", "NPU", "AUTO")
INSTALL = "pip install 'creative4u-small[openvino]'"
# What each precision runs: the IR (manifest key suffix) and OpenVINO's inference precision hint for the float
# parts. fp32 is asked for explicitly: on CPUs with AMX or AVX512_BF16 OpenVINO's default hint is bf16.
IR_SUFFIX = {"fp32": mf.OPENVINO_FP32, "bf16": mf.OPENVINO_FP32, "int8": mf.OPENVINO_INT8}
HINT = {"fp32": "f32", "bf16": "bf16", "int8": "f32"}

_state: dict = {}
_lock = threading.Lock()
log = logging.getLogger(__name__)


class OpenVinoError(BackendError):
    """OpenVINO cannot run here as asked (device, precision, graph), with what can."""


def disable_telemetry() -> dict:
    """OpenVINO's and NNCF's telemetry off in this process (``contract.telemetry``); what was done."""
    telemetry.disable()
    return telemetry.status(TELEMETRY_MODULE)


def openvino():
    """The ``openvino`` module with telemetry off, or None where it is not installed (or cannot load)."""
    with _lock:
        if "module" not in _state:
            _state["telemetry"] = disable_telemetry()
            try:
                import openvino as ov  # optional: the openvino extra
            except ImportError as e:
                _state["module"], _state["import_error"] = None, str(e) or type(e).__name__
            else:
                _state["module"] = ov
        return _state["module"]


def core():
    """One ``openvino.Core`` per process (it caches compiled kernels and device plugins)."""
    ov = openvino()
    if ov is None:
        raise OpenVinoError(f"openvino is not installed: {INSTALL}")
    with _lock:
        if "core" not in _state:
            _state["core"] = ov.Core()
        return _state["core"]


def status() -> dict:
    """Version, devices and the telemetry guard, for ``describe()`` and benchmark reports."""
    ov = openvino()
    if ov is None:
        return {"installed": False, "reason": _state.get("import_error", "not installed"), "install": INSTALL}
    return {"installed": True, "version": ov.__version__, "devices": list(core().available_devices),
            "cpu": core().get_property("CPU", "FULL_DEVICE_NAME"),
            "cpu_capabilities": list(core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")), **_state["telemetry"]}


def check_device(device: str, precision: str) -> None:
    """A clear error for a device OpenVINO does not see here, or bf16 where the device has no BF16."""
    if device not in DEVICES:
        raise OpenVinoError(f"OpenVINO device {device!r} is not one of {', '.join(DEVICES)}")
    devices = list(core().available_devices)
    if device != "AUTO" and not any(d == device or d.startswith(device + ".") for d in devices):
        raise OpenVinoError(f"OpenVINO device {device} is not available here (OpenVINO sees: {', '.join(devices) or 'none'}); "
                            "use --device CPU or AUTO")
    if precision == "bf16" and device != "AUTO":
        caps = core().get_property(device, "OPTIMIZATION_CAPABILITIES")
        if "BF16" not in caps:
            raise OpenVinoError(f"OpenVINO device {device} has no BF16 (its capabilities: {', '.join(caps)}); "
                                "use precision fp32 or int8")


class OvGraph:
    """One compiled IR with a pool of infer requests: ``run`` is thread-safe, each call takes an idle request."""

    def __init__(self, compiled, device: str, hint: str):
        self.compiled = compiled
        self.output_names = [o.get_any_name() for o in compiled.outputs]
        self._idle: queue.SimpleQueue = queue.SimpleQueue()
        self.details = {"engine": "openvino", "device": device, "inference_precision_hint": hint,
                        "execution_devices": list(compiled.get_property("EXECUTION_DEVICES"))}

    def _request(self):
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            return self.compiled.create_infer_request()

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        request = self._request()
        try:
            results = request.infer(feeds)  # copies the outputs (share_outputs=False)
            return {name: results[i] for i, name in enumerate(self.output_names)}
        finally:
            self._idle.put(request)


def compile_config(device: str, precision: str, threads: int = 0, profile: bool = False, properties: dict | None = None) -> dict:
    """``compile_model`` properties: one stream tuned for latency, the precision hint, the thread count, and the
    graph's own (its manifest entry's ``compile_properties``: how its INT8 activations are quantized at run time)."""
    config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": HINT[precision], **(properties or {})}
    if device == "CPU":
        config["NUM_STREAMS"] = "1"
        if threads:
            config["INFERENCE_NUM_THREADS"] = str(threads)
    if profile:
        config["PERF_COUNT"] = "YES"
    return config


def open_ir(path, precision: str, threads: int = 0, device: str = "CPU", profile: bool = False,
            properties: dict | None = None, transform=None) -> OvGraph:
    """Compile the IR at ``path`` on ``device`` for ``precision`` (fp32, bf16 or int8) with the graph's ``properties``,
    after ``transform(model)`` where given (the decoder step's stateful rewrite)."""
    check_device(device, precision)
    if precision == "bf16" and threads == 1 and device == "CPU":
        # measured with openvino 2026.4.1: compile_model of the judge and decoder IR under the bf16 hint on one
        # inference thread stops the whole process with SIGFPE (vision compiles; 2 threads or the default work)
        raise OpenVinoError("precision bf16 on one CPU thread is refused: OpenVINO's CPU plugin stops the process (SIGFPE) "
                            "compiling bf16 text graphs with INFERENCE_NUM_THREADS=1; use threads 0 or 2 and more, or fp32/int8")
    try:
        model = core().read_model(str(path))
        if transform is not None:
            transform(model)
        compiled = core().compile_model(model, device, compile_config(device, precision, threads, profile, properties))
    except RuntimeError as e:
        raise OpenVinoError(f"{path}: OpenVINO cannot compile this IR on {device} ({str(e).strip().splitlines()[0][:200]}); "
                            "re-export with `c4u export --openvino`") from None
    return OvGraph(compiled, device, HINT[precision])


class OpenVinoEngine(Engine):
    name = "openvino"
    help = f"OpenVINO IR from `c4u export --openvino` on a CPU, Intel GPU or NPU ({INSTALL})"
    precisions = ("int8", "fp32", "bf16")
    own_graphs = True
    auto_precisions = ("int8", "fp32")
    parity_keys = {"fp32": "openvino-fp32", "int8": "openvino-int8", "bf16": "openvino-fp32"}

    def lacks(self, manifest: mf.Manifest) -> str | None:
        if f"{mf.JUDGE}.{mf.OPENVINO_FP32}" not in manifest.graphs:
            return "the export has no OpenVINO IR (re-export with `c4u export --openvino`)"
        return None

    def installed(self) -> str | None:
        if openvino() is None:
            return f"openvino cannot be imported ({_state.get('import_error', 'not installed')}; {INSTALL})"
        return None

    def variant_key(self, manifest: mf.Manifest, graph: str, precision: str) -> str | None:
        if precision not in IR_SUFFIX:
            return None
        key = f"{graph}.{IR_SUFFIX[precision]}"
        return key if key in manifest.graphs else None

    def check_precision(self, export_dir, manifest: mf.Manifest, precision: str) -> None:
        if not self.holds(manifest, precision):
            raise mf.ManifestError(f"{export_dir}: the export has no OpenVINO IR for precision {precision} "
                                   "(OpenVINO runs fp32, bf16 and int8); re-export with `c4u export --openvino`")

    def auto_gate(self, manifest: mf.Manifest, precision: str) -> str | None:
        if precision == "int8" and platform.machine().lower() not in ("x86_64", "amd64"):
            return f"OpenVINO INT8 is picked on x86 CPUs only (this is {platform.machine()})"
        return super().auto_gate(manifest, precision)

    def open(self, path, entry: mf.GraphEntry, precision: str, config, manifest: mf.Manifest):
        """The IR compiled; the decoder step graph stateful, its KV cache written in place (``openvino_decoder``)."""
        properties = entry.quantization.get("compile_properties")
        if entry.source != mf.DECODER_STEP:
            return open_ir(path, precision, config.threads, config.device, properties=properties)
        layers = manifest.dims.num_layers
        graph = open_ir(path, precision, config.threads, config.device, properties=properties,
                        transform=lambda model: openvino_decoder.make_stateful_in_place(model, layers))
        return openvino_decoder.StatefulStep(graph.compiled, layers, graph.details | {"stateful": True})

    def decoder(self, prefill, step, num_layers: int):
        return openvino_decoder.StatefulDecoder(prefill, step)

    def describe(self, manifest: mf.Manifest) -> dict:
        return {"openvino": status()}


OPENVINO = OpenVinoEngine()
