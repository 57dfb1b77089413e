"""Checks of the serve package apart from the full server: config validation, admission, the guard's last-resort 500, `c4u serve --help`."""

from __future__ import annotations

import asyncio
import time
import types

import pytest
from typer.testing import CliRunner

from creative4u_small.contract.settings import help_of
from creative4u_small.serve.batcher import MicroBatcher
from creative4u_small.serve.limits import RequestError
from creative4u_small.serve.reading import BodyMeter, Readers
from creative4u_small.serve.serve_config import ServeConfig


@pytest.mark.parametrize("bad, message", [
    (dict(port=0), "port must be"), (dict(max_batch=0), "max_batch must be at least 1"), (dict(workers=0), "workers must be at least 1"),
    (dict(max_queue=0), "max_queue"), (dict(max_reading=0), "max_reading"), (dict(body_timeout_s=0), "body_timeout_s must be above 0"),
    (dict(max_wait_ms=-1), "max_wait_ms must be 0 or more"), (dict(max_body_mb=0), "max_body_mb"),
    (dict(max_request_pixels=-1), "max_request_pixels"), (dict(api_key_env="MY-TOKEN"), "environment variable name"), (dict(log_level="loud"), "log_level"),
])
def test_serve_config_refuses_bad_values(bad, message):
    with pytest.raises(ValueError, match=message):
        ServeConfig(**bad)


def test_every_serve_config_field_is_a_serve_option_with_its_help():
    """Each ServeConfig field (the nested SelectorConfig's through ``selector.*``) is a ``c4u serve`` option spelled as
    its flag and showing the field's own help text: a field left out of the command, or an option given other help, fails."""
    import typer

    from creative4u_small.cli import app
    from creative4u_small.contract.settings import flag_of
    from creative4u_small.runtime.selector_config import SelectorConfig

    serve = typer.main.get_command(app).commands["serve"]
    options = {opt: p for p in serve.params for opt in p.opts}
    for name in ServeConfig.__dataclass_fields__:
        if name == "selector":
            continue
        flag = flag_of(ServeConfig, name).partition("/")[0]  # a switch's --name half (--ui of --ui/--no-ui)
        assert flag in options, f"ServeConfig.{name} ({flag}) is not a c4u serve option"
        assert options[flag].help == help_of(ServeConfig, name), flag
    nested = [p for p in serve.params if p.name.startswith("selector__")]
    assert nested, "no SelectorConfig field is a c4u serve option"
    for p in nested:
        assert p.help == help_of(SelectorConfig, p.name.removeprefix("selector__")), p.opts


def test_serve_options_build_the_selector_config_it_holds(tmp_path, monkeypatch):
    """--backend, --precision, --threads, --max-pixels, --cache-images are the SelectorConfig's own fields."""
    import creative4u_small.cli.serve as serve_cli
    from creative4u_small.cli import app
    from creative4u_small.runtime.selector_config import SelectorConfig

    got = []
    monkeypatch.setattr(serve_cli, "run_server", got.append)
    args = ["serve", "--export", str(tmp_path), "--precision", "int8", "--threads", "3", "--max-pixels", "1000", "--workers", "2"]
    assert CliRunner().invoke(app, args).exit_code == 0
    assert got[0].selector == SelectorConfig(precision="int8", threads=3, max_pixels=1000) and got[0].workers == 2
    assert ServeConfig.from_dict(got[0].to_dict()) == got[0]  # what a worker process rebuilds from its environment
    with pytest.raises(ValueError, match="precision 'fp8'"):
        ServeConfig(selector=SelectorConfig(precision="fp8"))


def test_reading_and_the_queue_are_capped_apart_with_retry_after():
    """A request being read holds no queue slot: max_reading and max_queue each refuse with 503 on their own; a
    reader that is not behind the minimum rate is never cut to make room (the newcomer waits out its grace, then 503)."""
    async def main():
        readers = Readers(limit=3, min_rate_kib=1, grace_s=0.2, timeout_s=30, retry_after_s=7)
        batcher = MicroBatcher(selector=None, max_batch=4, max_wait_ms=1, max_queue=2, retry_after_s=7, readers=readers)
        async with readers.slot(compare=True) as a, readers.slot(compare=False) as b, readers.slot(compare=True) as c:
            for r in (a, b, c):
                r.received = 10**9  # far ahead of the rate: none may be cut
            whole = BodyMeter(length=10)
            whole.add(10)
            with pytest.raises(RequestError) as e:
                async with readers.slot(compare=True, meter=whole):
                    pass
            assert e.value.status == 503 and e.value.kind == "busy" and "--max-reading" in e.value.reason
            assert batcher.depth == 0 and readers.compares == 2
            with batcher.admit(), batcher.admit():
                assert batcher.depth == 2
                with pytest.raises(RequestError) as e, batcher.admit():
                    pass
                assert e.value.status == 503 and e.value.headers == {"Retry-After": "7"} and "limit 2, --max-queue" in e.value.reason
        assert batcher.depth == 0 and readers.count == 0
        batcher.executor.shutdown()

    asyncio.run(main())


def test_full_reading_slots_go_to_a_body_that_arrives_never_to_a_stalled_one():
    """With every slot taken: a new request whose body is in takes the slot of the reader owing the most bytes (grace
    waived), which gets 408 naming --max-reading; a new stalled upload cuts no one and gets its own 408 when its grace
    ends; shutdown then cuts the rest with 503."""
    async def main():
        readers = Readers(limit=2, min_rate_kib=1, grace_s=0.5, timeout_s=60, retry_after_s=1)
        async with readers.slot(False) as slow, readers.slot(False) as stalled:
            slow.received, stalled.received = 10, 0
            slow.started = stalled.started = time.monotonic() - 1.0  # 1 s in: ~1,000 bytes owed each, stalled the most
            with pytest.raises(RequestError) as late:
                async with readers.slot(True, BodyMeter(length=500)):  # 0 of 500 bytes: waits, cuts no one
                    pass
            assert late.value.status == 408 and "--min-body-rate" in late.value.reason and not stalled.cut.done()
            whole = BodyMeter(length=500)
            whole.add(500)
            async with readers.slot(True, whole) as fresh:
                assert stalled.cut.done() and not slow.cut.done() and readers.count == 2
                cut = stalled.cut.result()
                assert cut.status == 408 and "--max-reading 2" in cut.reason
                readers.cut_all("stopping")
                assert slow.cut.result().status == 503 and fresh.cut.result().kind == "shutting_down"
            with pytest.raises(RequestError, match="stopping"):
                async with readers.slot(False):
                    pass

    asyncio.run(main())


class _CountingSelector:
    """compare_many records each call's pairs; compare is one more call."""

    images_encoded = 0

    def __init__(self):
        self.calls = []

    def compare_many(self, pairs, explain=False):
        self.calls.append(len(pairs))
        time.sleep(0.05)
        return [types.SimpleNamespace(timings_ms={}, pair=p) for p in pairs]


def test_concurrent_compares_share_one_call_and_a_lone_one_runs_alone():
    async def main():
        sel = _CountingSelector()
        batcher = MicroBatcher(sel, max_batch=8, max_wait_ms=50, max_queue=64, retry_after_s=1)
        batcher.start()
        lone = await batcher.compare("a", "b", "q", "t", False)
        busy = await batcher.run(time.sleep, 0)  # the worker thread is free again
        got = await asyncio.gather(*(batcher.compare(f"a{i}", "b", "q", "t", False) for i in range(5)))
        await batcher.close()
        return sel.calls, lone, busy, got

    calls, lone, busy, got = asyncio.run(main())
    assert lone[2] == 1 and busy is None
    assert calls[0] == 1 and sum(calls[1:]) == 5 and max(calls[1:]) > 1, calls
    assert [r[0].pair[0] for r in got] == [f"a{i}" for i in range(5)]


def test_a_batch_waiting_for_a_compare_being_read_wakes_when_it_is_queued_or_its_reader_leaves():
    """max_wait_ms is 10 s; a batch waits only while compares are being read, and must wake at once when a compare is
    queued (here it fills the batch of 2, which runs while another compare is still being read) or when a reader
    leaves without queueing (the batch runs alone). A lost wake-up would wait out the 10 s: each wait below allows 2."""
    async def main():
        sel = _CountingSelector()
        readers = Readers(limit=8, min_rate_kib=1, grace_s=60, timeout_s=60, retry_after_s=1)
        batcher = MicroBatcher(sel, max_batch=2, max_wait_ms=10_000, max_queue=64, retry_after_s=1, readers=readers)
        readers.on_change = batcher.wake
        batcher.start()

        async def queued_later():
            async with readers.slot(compare=True):  # as the app does: the slot is let go once the body and frames are in
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.1)  # queued well after its reader left: only the queueing can wake the batch
            return await batcher.compare("late", "b", "q", "t", False)

        async with readers.slot(compare=True):  # still being read through both compares
            first = asyncio.ensure_future(batcher.compare("first", "b", "q", "t", False))
            got = await asyncio.wait_for(asyncio.gather(first, queued_later()), 2)
        async with readers.slot(compare=True):  # a reader that leaves without queueing (refused, say)
            alone = asyncio.ensure_future(batcher.compare("alone", "b", "q", "t", False))
            await asyncio.sleep(0.1)
        await asyncio.wait_for(alone, 2)
        await batcher.close()
        return sel.calls, got

    calls, got = asyncio.run(main())
    assert calls == [2, 1] and got[0][2] == 2, calls


def test_each_json_body_cap_holds_what_its_endpoint_takes():
    """A JSON body carries the images of a --max-body-mb multipart body as base64, with every field at its limit
    (text escaped as \\uXXXX, rank's names too), and not much more; multipart keeps --max-body-mb."""
    import base64
    import json

    from creative4u_small.serve.limits import MAX_NAME_CHARS, body_cap

    cfg = ServeConfig(max_body_mb=0.25, max_rank_images=8, max_text_chars=50)
    text = "\u2603" * cfg.max_text_chars
    for path, n in (("/v1/compare", 2), ("/v1/rank", cfg.max_rank_images)):
        images = [base64.b64encode(b"\0" * (cfg.max_body_bytes // n)).decode() for _ in range(n)]
        body = {"query": text, "title": text, "strict": False, **({"image_a": images[0], "image_b": images[1], "explain": False} if n == 2 else
                {"images": images, "names": ["\u2603" * (MAX_NAME_CHARS - 1) + str(i) for i in range(n)], "top_k": 99})}
        size = len(json.dumps(body, ensure_ascii=True).encode())
        cap = body_cap(cfg, path, "application/json")
        assert size <= cap <= size * 1.02 + 4096, (path, size, cap)
        assert body_cap(cfg, path, "multipart/form-data") == cfg.max_body_bytes


def test_a_connection_cap_the_open_files_limit_cannot_hold_is_refused_in_one_line():
    import resource

    from creative4u_small.serve.protocol import FD_RESERVE, connection_limit

    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    assert connection_limit(0) == soft - FD_RESERVE and connection_limit(16) == 16
    with pytest.raises(ValueError, match=r"raise it \(ulimit -n\) or set --max-connections"):
        connection_limit(soft)
