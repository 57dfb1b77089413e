"""In-process checks of the serve package: torch-free imports, config validation, admission, `c4u serve --help`."""

from __future__ import annotations

import asyncio
import contextlib
import time
import types

import pytest
from typer.testing import CliRunner

from creative4u_small.serve.batcher import MicroBatcher
from creative4u_small.serve.limits import RequestError
from creative4u_small.serve.serve_config import ServeConfig
from creative4u_small.settings import help_of


@pytest.mark.parametrize("bad, message", [
    (dict(port=0), "port must be"), (dict(max_batch=0), "max_batch must be at least 1"), (dict(lanes=0), "lanes must be at least 1"), (dict(max_queue=0), "max_queue"),
    (dict(max_wait_ms=-1), "max_wait_ms must be 0 or more"), (dict(max_body_mb=0), "max_body_mb"), (dict(precision="fp8"), "precision"),
    (dict(api_key_env="MY-TOKEN"), "environment variable name"), (dict(log_level="loud"), "log_level"),
])
def test_serve_config_refuses_bad_values(bad, message):
    with pytest.raises(ValueError, match=message):
        ServeConfig(**bad)


def test_every_serve_config_field_has_help():
    assert all(help_of(ServeConfig, name) for name in ServeConfig.__dataclass_fields__)


def test_lanes_share_the_cores_and_a_lone_batch_takes_them_all(monkeypatch):
    from creative4u_small.serve import serve_config

    monkeypatch.setattr(serve_config, "usable_cores", lambda: 8)
    assert (ServeConfig().lane_threads, ServeConfig().wide_threads) == (0, 0)
    assert (ServeConfig(lanes=2).lane_threads, ServeConfig(lanes=2).wide_threads) == (4, 8)
    assert (ServeConfig(lanes=3, threads=1).lane_threads, ServeConfig(lanes=3, threads=1).wide_threads) == (1, 3)
    assert ServeConfig(lanes=16).lane_threads == 1
    assert ServeConfig(lanes=2, widen=False).wide_threads == 0


class _TimedSelector:
    """Records when each call ran and on how many threads (the lane accounting, without graphs)."""

    images_encoded = 0

    def __init__(self):
        import threading

        self.calls, self._local = [], threading.local()

    @contextlib.contextmanager
    def using_threads(self, threads):
        self._local.threads = threads
        yield self
        self._local.threads = None

    def _call(self, n):
        t0 = time.perf_counter()
        time.sleep(0.03)
        self.calls.append((t0, time.perf_counter(), getattr(self._local, "threads", None)))
        return [types.SimpleNamespace(timings_ms={}) for _ in range(n)]

    def compare_many(self, pairs, explain=False):
        return self._call(len(pairs))

    def rank(self, *images):
        return self._call(1)


def test_lanes_bound_what_runs_at_once_and_a_lone_batch_runs_wide_and_alone():
    sel = _TimedSelector()

    async def main():
        batcher = MicroBatcher(sel, max_batch=1, max_wait_ms=0, max_queue=64, retry_after_s=1, lanes=2, wide_threads=4)
        batcher.start()

        async def compare():
            with batcher.admit(compare=True) as ticket:
                return await batcher.compare(ticket, "a", "b", "q", "t", False)

        async def rank_soon(name):
            await asyncio.sleep(0.01)
            return await batcher.run(sel.rank, name)

        await asyncio.gather(compare(), rank_soon("x"))  # the rank arrives while the lone compare runs wide
        await asyncio.gather(*[compare() for _ in range(6)], batcher.run(sel.rank, "y"))
        await compare()
        await batcher.close()

    asyncio.run(main())
    assert [c[2] for c in (sel.calls[0], sel.calls[-1])] == [4, 4]  # lone requests ran wide
    assert len(sel.calls) == 10 and sum(c[2] is None for c in sel.calls) >= 6
    for t0, t1, threads in sel.calls:  # at each call's start: a wide call runs alone, others two at most
        running = [c for c in sel.calls if c[0] <= t0 < c[1]] + [c for c in sel.calls if t0 < c[0] < t1 and threads]
        assert len(running) <= (1 if threads else 2), (threads, running)


def test_lanes_turn_batching_off_only_where_the_judge_runs_pair_by_pair_and_widen_only_on_the_cpu():
    from creative4u_small.serve.app import batch_limit, wide_threads

    int8 = types.SimpleNamespace(pairs_per_judge_call=1, backend="cpu")
    fp32 = types.SimpleNamespace(pairs_per_judge_call=16, backend="cpu")
    gpu = types.SimpleNamespace(pairs_per_judge_call=16, backend="cuda")
    assert batch_limit(ServeConfig(lanes=2, max_batch=8), int8) == 1
    assert batch_limit(ServeConfig(lanes=2, max_batch=8), fp32) == 8
    assert batch_limit(ServeConfig(lanes=1, max_batch=8), int8) == 8
    assert wide_threads(ServeConfig(lanes=2, threads=1), int8) == 2
    assert wide_threads(ServeConfig(lanes=2, threads=1), gpu) == 0


def test_admission_refuses_beyond_max_queue_with_retry_after():
    batcher = MicroBatcher(selector=None, max_batch=4, max_wait_ms=1, max_queue=2, retry_after_s=7)
    with batcher.admit(compare=True), batcher.admit(compare=False):
        assert batcher.depth == 2
        with pytest.raises(RequestError) as e:
            with batcher.admit(compare=True):
                pass
        assert e.value.status == 503 and e.value.headers == {"Retry-After": "7"} and "limit 2" in e.value.reason
    assert batcher.depth == 0
    with batcher.admit(compare=True):
        assert batcher.depth == 1
    batcher.executor.shutdown()


def test_serve_help():
    from creative4u_small.cli import app

    result = CliRunner().invoke(app, ["serve", "--help"])
    assert result.exit_code == 0, result.output
    for option in ("--export", "--host", "--port", "--backend", "--precision", "--lanes", "--no-widen", "--max-batch", "--max-wait-ms", "--max-queue", "--api-key-env", "Example"):
        assert option in result.output, option


def test_serve_refuses_a_missing_export_in_one_line(tmp_path):
    from creative4u_small.cli import app

    result = CliRunner().invoke(app, ["serve", "--export", str(tmp_path / "nothing"), "--port", "18999"])
    assert result.exit_code == 2 and "error:" in result.output and "Traceback" not in result.output


def test_serve_refuses_an_unset_token_variable_before_loading(tmp_path, monkeypatch):
    from creative4u_small.cli import app

    monkeypatch.delenv("C4U_UNSET_TOKEN", raising=False)
    result = CliRunner().invoke(app, ["serve", "--export", str(tmp_path), "--backend", "cpu", "--api-key-env", "C4U_UNSET_TOKEN"])
    assert result.exit_code == 2 and "C4U_UNSET_TOKEN" in result.output


def test_serve_imports_only_core_runtime_and_itself():
    import ast
    from pathlib import Path

    import creative4u_small.serve as serve_pkg

    for path in Path(serve_pkg.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            for name in names:
                assert name.split(".")[0] not in ("torch", "transformers", "onnx", "trl"), f"{path.name} imports {name}"
                if name.startswith("creative4u_small."):
                    assert not name.startswith(("creative4u_small.distill", "creative4u_small.export", "creative4u_small.cli")), f"{path.name} imports {name}"
