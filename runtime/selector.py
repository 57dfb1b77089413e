"""``Selector``: compare, rank and explain creatives from an export folder, without torch.

One instance holds one inference session per graph (created once, shared by threads) and an
embedding cache keyed by image content, so an image seen before — in a rank pool or a later
compare — is never encoded again. ``compare`` runs both orders as one judge batch over the two
images' shared embeddings; p_a = ½[p_AB(A) + p_BA(A)], exactly as ``scorer``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import replace
from pathlib import Path

import numpy as np

from creative4u_small.contract.verdict_prob import p_a_orders, softmax_first
from creative4u_small.runtime import engines, explain, probe, tournament
from creative4u_small.runtime import manifest as mf
from creative4u_small.runtime.choice import Choice, choose
from creative4u_small.runtime.explain import explanation as parse_explanation
from creative4u_small.runtime.prefix_judge import PrefixJudge
from creative4u_small.runtime.preprocess import preprocess
from creative4u_small.runtime.results import CompareResult, Frame, RankResult, content_key
from creative4u_small.runtime.selector_config import SelectorConfig
from creative4u_small.runtime.tokenize import JudgePrompt, PromptTokenizer

STAGES = ("preprocess", "vision", "judge", "explain")
VERDICT_GRAPHS = (mf.VISION, mf.JUDGE)
DECODER_GRAPHS = (mf.DECODER_PREFILL, mf.DECODER_STEP)
log = logging.getLogger(__name__)


class Selector:
    """Load with ``Selector.load(export_dir, backend="auto")``; thread-safe."""

    def __init__(self, export_dir: Path, manifest: mf.Manifest, config: SelectorConfig, choice: Choice):
        self.export_dir, self.manifest, self.config = Path(export_dir), manifest, config
        self.engine, self.choice = choice.engine, choice
        precision = choice.precision
        self.precision_reason, self.backend_reason = choice.precision_reason, choice.backend_reason
        self._bf16 = set(mf.GRAPHS) if precision == "bf16" else set()  # graphs run with OpenVINO's bf16 hint
        self.tokenizer = PromptTokenizer.from_export(self.export_dir, manifest.prompt)
        self._graphs: dict[str, object] = {}  # graph -> session
        self._graph_lock = threading.Lock()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._encoded = 0
        self.graph_keys = {g: self._graph_key(g, precision) for g in mf.GRAPHS if g in manifest.graphs}
        self.probe_report: dict = {}
        self._probe_data: dict | None = None
        self._decoder_lock = threading.Lock()
        self._decoder_ready = False
        for g in VERDICT_GRAPHS:
            if g not in self.graph_keys:
                raise mf.ManifestError(f"{self.export_dir}: the export has no {g} graph; re-export with `c4u export`")
        # with prefix reuse the judge runs through judge_extend (an export without that graph runs full prompts)
        self.prefix_reuse = config.prefix_reuse and mf.JUDGE_EXTEND in self.graph_keys
        self.verdict_graphs = VERDICT_GRAPHS + ((mf.JUDGE_EXTEND,) if self.prefix_reuse else ())
        for g in self.verdict_graphs:
            self._graph(g)

    @classmethod
    def load(cls, export_dir: str | Path, backend: str | None = None, config: SelectorConfig | None = None,
             **overrides) -> "Selector":
        """Check the manifest (format version, every file's hash), then open the export as ``from_manifest`` does.
        ``backend`` and ``overrides`` replace ``config``'s fields."""
        if backend is not None:
            overrides["backend"] = backend
        config = replace(config or SelectorConfig(), **overrides)
        return cls.from_manifest(export_dir, mf.read_manifest(Path(export_dir), verify_hashes=config.verify_hashes), config)

    @classmethod
    def from_manifest(cls, export_dir: str | Path, manifest: mf.Manifest, config: SelectorConfig) -> "Selector":
        """Pick backend and precision, open the graphs and replay the export's parity probe through them.

        The exporter calls this on the manifest it is about to write, so the runtime check runs
        before anything claims the export is complete.
        """
        selector = cls(export_dir, manifest, config, choose(Path(export_dir), manifest, config))
        selector._probe(selector.verdict_graphs)
        return selector

    # ------------------------------------------------------------ graphs

    @property
    def backend(self) -> str:
        """The engine's name (``cpu``, ``cuda``, ``trt-ep``, ``tensorrt``, ``openvino``)."""
        return self.engine.name

    def _graph_key(self, graph: str, precision: str) -> str:
        return self.engine.graph_key(self.manifest, graph, precision)

    def _graph(self, graph: str):
        """The engine's graph for ``graph``, opened on first use and shared by every thread after."""
        if graph in self._graphs:
            return self._graphs[graph]
        with self._graph_lock:
            if graph not in self._graphs:
                if graph not in self.graph_keys:
                    raise mf.ManifestError(f"{self.export_dir}: the export has no {graph} graph (exported with --no-decoder?); re-export to get rationales")
                key = self.graph_keys[graph]
                path = self.engine.graph_file(self.export_dir, self.manifest, graph, key)
                self._graphs[graph] = self.engine.open(path, self.manifest.graphs[key], self._precision_of(graph), self.config, self.manifest)
            return self._graphs[graph]

    def run_graph(self, graph: str, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """One call of ``graph`` with every input cast to the dtype its entry declares."""
        return self._graph(graph).run({k: np.asarray(v).astype(self._dtype(graph, k, np.asarray(v).dtype), copy=False)
                                       for k, v in feeds.items()})

    def _probe(self, graphs: tuple[str, ...]) -> None:
        """Replay the export's parity probe through ``graphs`` (the verdict pair or the decoder pair).

        INT8 graphs that drift past the export's floors are swapped for fp32 ones (or raise, with
        ``on_probe_failure="raise"``); fp32 graphs that drift always raise: nothing is left to fall back to.
        """
        part = "verdict" if mf.JUDGE in graphs else "decoder"
        if not self.config.probe:
            self.probe_report[part] = {"status": "skipped", "reason": "probe=False"}
            return
        if self._probe_data is None:
            self._probe_data = probe.load(self.export_dir, self.manifest)
        precision = self._precision_of(graphs[0]).split("-")[0]
        result = self._probe_once(part, precision)
        if result["status"] == "passed":
            return
        message = (f"{self.export_dir}: the {precision} {part} graphs fail the parity probe on this machine "
                   f"({probe.where()}; backend {self.backend}): {result['reason']}")
        if precision == "fp32" or not self.engine.falls_back or self.config.on_probe_failure == "raise":
            fix = ("re-export on this machine or use another backend" if precision == "fp32" else
                   f"the {self.backend} backend has no fp32 graphs to fall back to: use another backend" if not self.engine.falls_back else
                   "use precision fp32, or on_probe_failure='fallback'")
            raise probe.ProbeFailed(f"{message}; {fix}")
        log.warning("%s; using fp32 graphs instead", message)
        with self._graph_lock:
            for g in graphs:
                self._graphs.pop(g, None)
            for g in graphs:
                self.graph_keys[g] = self._graph_key(g, "fp32")
            self._bf16.difference_update(graphs)
        self.probe_report[f"{part}_refused"] = result
        self.probe_report["fallback"] = message
        if self._probe_once(part, "fp32")["status"] != "passed":
            raise probe.ProbeFailed(f"{self.export_dir}: the fp32 {part} graphs fail the parity probe too: "
                                    f"{self.probe_report[part]['reason']}; re-export on this machine")

    def _probe_once(self, part: str, precision: str) -> dict:
        floors = probe.floors_for(self.manifest, precision)
        if part == "verdict":
            result = probe.verdict_check(self.run_graph, self._probe_data, floors, self._prefix_judge())
        else:
            result = probe.decoder_check(self._decoder(), self._probe_data, floors)
        self.probe_report[part] = {"precision": precision, "backend": self.backend, **result}
        return result

    def open_decoder(self) -> None:
        """Open and probe the decoder graphs now; otherwise the first explain does (only explanations need them)."""
        if self._decoder_ready:
            return
        with self._decoder_lock:
            if not self._decoder_ready:
                for g in DECODER_GRAPHS:
                    self._graph(g)
                self._probe(DECODER_GRAPHS)
                self._decoder_ready = True

    def _precision_of(self, graph: str) -> str:
        """The precision ``graph`` really runs in: its graph's, or bf16 for an fp32 IR under OpenVINO's bf16 hint."""
        return "bf16" if graph in self._bf16 else self.manifest.graphs[self.graph_keys[graph]].precision

    @property
    def precision(self) -> str:
        """The precision the verdict graphs really run in (fp32 after a probe fallback)."""
        return self._precision_of(mf.JUDGE)

    def describe(self) -> dict:
        """Backend, precision per graph and the providers ONNX Runtime really uses."""
        graphs = {}
        for g, key in self.graph_keys.items():
            entry = self.manifest.graphs[key]
            info = {"key": key, "precision": entry.precision, "file": entry.file}
            session = self._graphs.get(g)
            if hasattr(session, "providers"):
                info["providers"] = session.providers
            info.update(getattr(session, "details", {}))
            graphs[g] = info
        return {"export": str(self.export_dir), "backend": self.backend, "backend_reason": self.backend_reason,
                "precision": self.precision, "requested_precision": self.config.precision, "precision_reason": self.precision_reason,
                "available_backends": engines.available(self.manifest), "auto": self.choice.to_dict(),
                "graphs": graphs, "status": self.manifest.status, "probe": self.probe_report, "text_token_budget": self.tokenizer.budgets,
                **self.engine.describe(self.manifest)}

    @property
    def images_encoded(self) -> int:
        """Vision encodes since load (cache hits are not encodes)."""
        return self._encoded

    def frame(self, src, cap_name: str = "max_pixels") -> Frame:
        """``src`` (path, bytes or PIL image) decoded and preprocessed now; ImageError names ``cap_name`` when
        it is over the pixel cap. Pass Frames to ``compare``/``rank`` in place of images."""
        return Frame(content_key(src), preprocess(src, self.manifest.preprocessing, self.config.max_pixels, cap_name))

    def prompt(self, query: str | None, title: str | None, strict: bool | None = None) -> JudgePrompt:
        """The judge prompt of a (query, title) with each slot cut to the export's token budget (``strict``,
        default ``config.strict_text``: TextBudgetError instead)."""
        return self.tokenizer.prompt(query, title, self.config.strict_text if strict is None else strict)

    def clear_cache(self) -> None:
        with self._cache_lock:
            self._cache.clear()

    # ------------------------------------------------------------ stages

    def embed(self, images: list, timings: dict | None = None) -> list[np.ndarray]:
        """[image_seq_len, hidden] per image; each distinct content is encoded once and cached."""
        return self._embed(images, timings if timings is not None else {})[0]

    def _embed(self, images: list, timings: dict) -> tuple[list[np.ndarray], int]:
        keys = [content_key(src) for src in images]
        have: dict[str, np.ndarray] = {}
        todo: dict[str, object] = {}
        with self._cache_lock:
            for key, src in zip(keys, images):
                if key in self._cache:
                    self._cache.move_to_end(key)
                    have[key] = self._cache[key]
                elif key not in todo:
                    todo[key] = src
        fresh: dict[str, np.ndarray] = {}
        if todo:
            t0 = time.perf_counter()
            pixels = np.stack([src.pixels if isinstance(src, Frame) else preprocess(src, self.manifest.preprocessing, self.config.max_pixels)
                               for src in todo.values()])
            t1 = time.perf_counter()
            vision = self._graph(mf.VISION)
            dtype = self._dtype(mf.VISION, "pixel_values", np.float32)
            outs = []
            step = self._per_call(mf.VISION)
            for i in range(0, len(pixels), step):
                outs.append(vision.run({"pixel_values": pixels[i: i + step].astype(dtype, copy=False)})["image_embeds"])
            embeds = np.concatenate(outs).astype(np.float32, copy=False)
            t2 = time.perf_counter()
            _add(timings, "preprocess", t1 - t0)
            _add(timings, "vision", t2 - t1)
            fresh = dict(zip(todo, embeds))
        with self._cache_lock:
            self._encoded += len(fresh)
            for key, emb in fresh.items():
                self._cache[key] = emb
            while len(self._cache) > self.config.cache_images:
                self._cache.popitem(last=False)
        have.update(fresh)
        return [have[k] for k in keys], len(fresh)

    @property
    def pairs_per_judge_call(self) -> int:
        """Pairs one judge graph call takes (1 for dynamic INT8 graphs; see ``_per_call``)."""
        return self._per_call(mf.JUDGE)

    def _per_call(self, graph: str) -> int:
        """Images (vision) or pairs (judge) per call: ``batch_size``, unless the engine's graph would make an answer
        depend on its batch mates (ONNX Runtime's dynamic INT8: one per call)."""
        return self.engine.per_call(self.manifest.graphs[self.graph_keys[graph]], self.config.batch_size)

    def _dtype(self, graph: str, name: str, default):
        entry = self.manifest.graphs[self.graph_keys[graph]]
        return np.dtype(entry.inputs.get(name, {}).get("dtype", np.dtype(default).name))

    def _rows(self, jobs: list[tuple[list[int], np.ndarray, np.ndarray]], graph: str) -> dict[str, np.ndarray]:
        """Left-padded judge feeds for rows of (prompt ids, Creative A embeds, Creative B embeds)."""
        width = max(len(ids) for ids, _, _ in jobs)
        input_ids = np.full((len(jobs), width), self.manifest.prompt.pad_token_id, dtype=np.int64)
        mask = np.zeros((len(jobs), width), dtype=np.int64)
        for r, (ids, _, _) in enumerate(jobs):
            input_ids[r, width - len(ids):] = ids
            mask[r, width - len(ids):] = 1
        embeds = np.stack([np.concatenate([a, b]) for _, a, b in jobs])
        return {"input_ids": input_ids.astype(self._dtype(graph, "input_ids", np.int64), copy=False),
                "attention_mask": mask.astype(self._dtype(graph, "attention_mask", np.int64), copy=False),
                "image_embeds": embeds.astype(self._dtype(graph, "image_embeds", np.float32), copy=False)}

    def _judge(self, items: list[tuple[list[int], np.ndarray, np.ndarray]], timings: dict, both_orders: bool = True,
               on_batch=None, prefix: PrefixJudge | None = None) -> np.ndarray:
        """Verdict logits [rows, 2]; ``items``: (ids, emb_a, emb_b) per pair, each giving rows AB, BA
        (or only AB with ``both_orders=False``), run in graph calls of ``_per_call`` pairs;
        ``on_batch(rows)`` after each call."""
        t0 = time.perf_counter()
        if self.prefix_reuse:
            logits = (prefix or self._prefix_judge()).logits(items, both_orders, on_batch)
            _add(timings, "judge", time.perf_counter() - t0)
            return logits
        judge = self._graph(mf.JUDGE)
        logits = []
        step = self._per_call(mf.JUDGE)
        for i in range(0, len(items), step):
            jobs = []
            for ids, ea, eb in items[i: i + step]:
                jobs += [(ids, ea, eb), (ids, eb, ea)] if both_orders else [(ids, ea, eb)]
            logits.append(judge.run(self._rows(jobs, mf.JUDGE))["verdict_logits"].astype(np.float32))
            if on_batch:
                on_batch(len(jobs))
        _add(timings, "judge", time.perf_counter() - t0)
        return np.concatenate(logits)

    def _decoder(self):
        """A decoder for one explanation (it holds that explanation's cache): the engine's, over the decoder graphs."""
        return self.engine.decoder(self._graph(mf.DECODER_PREFILL), self._graph(mf.DECODER_STEP), self.manifest.dims.num_layers)

    def _prefix_judge(self) -> PrefixJudge | None:
        """The prefix-reuse judge over this Selector's graphs (None with ``prefix_reuse`` off)."""
        if not self.prefix_reuse:
            return None
        return PrefixJudge(self.run_graph, self.manifest.prompt, self.manifest.dims, self._per_call(mf.JUDGE_EXTEND))

    def _explain(self, ids: list[int], ea: np.ndarray, eb: np.ndarray, verdict: str, timings: dict, min_new_tokens: int = 0) -> str:
        t0 = time.perf_counter()
        tokens = self.rationale_tokens(ids, ea, eb, verdict, min_new_tokens)
        _add(timings, "explain", time.perf_counter() - t0)
        return self.tokenizer.decode(tokens).strip()

    def rationale_tokens(self, ids: list[int], ea: np.ndarray, eb: np.ndarray, verdict: str, min_new_tokens: int = 0,
                         max_new_tokens: int | None = None) -> list[int]:
        """The rationale's token ids, greedy, after the forced ``<answer>{verdict}</answer>`` (prompt ``ids``, the two
        creatives' embeddings)."""
        self.open_decoder()
        spec = self.manifest.prompt
        forced = [spec.verdict_token_ids[0 if verdict == "A" else 1], *spec.answer_close_ids]
        return explain.greedy_decode(self._decoder(), self._rows([(ids, ea, eb)], mf.DECODER_PREFILL), [forced], spec,
                                     max_new_tokens or self.config.max_new_tokens, min_new_tokens)[0]

    # ------------------------------------------------------------ public API

    def compare(self, a, b, query: str = "", title: str = "", explain: bool = False, min_new_tokens: int = 0) -> CompareResult:
        """Which creative users will more likely click; images as paths, bytes or PIL images."""
        return self.compare_many([(a, b, query, title)], explain=explain, min_new_tokens=min_new_tokens)[0]

    def compare_many(self, items, explain: bool = False, min_new_tokens: int = 0) -> list[CompareResult]:
        """``items``: (a, b, query, title) tuples; pairs run in judge batches of ``batch_size``."""
        t_start = time.perf_counter()
        timings: dict = {}
        items = list(items)
        if not items:
            return []
        prompts = [self.prompt(q, t) for _, _, q, t in items]
        ids = [pr.ids for pr in prompts]
        flat = [src for a, b, _, _ in items for src in (a, b)]
        embeds, _ = self._embed(flat, timings)
        jobs = [(ids[k], embeds[2 * k], embeds[2 * k + 1]) for k in range(len(items))]
        logits = self._judge(jobs, timings)
        p = p_a_orders(logits)
        results = []
        for k in range(len(items)):
            pk = p[k]
            p_a = float(pk.mean())
            winner = "A" if p_a >= 0.5 else "B"
            rationale = None
            if explain:
                rationale = self._explain(*jobs[k], winner, timings, min_new_tokens)
            results.append(CompareResult(
                winner, p_a, (float(pk[0]), float(pk[1])), bool((pk[0] >= 0.5) == (pk[1] >= 0.5)),
                tuple(tuple(float(v) for v in row) for row in logits[2 * k: 2 * k + 2]), rationale,
                explanation=None if rationale is None else parse_explanation(rationale, winner), truncated=prompts[k].truncated,
            ))
        timings["total"] = time.perf_counter() - t_start
        ms = {k: round(v * 1000, 3) for k, v in timings.items()}
        for r in results:
            r.timings_ms = dict(ms)
        return results

    def rank(self, images: list, query: str = "", title: str = "", top_k: int | None = None, progress=None) -> RankResult:
        """Order ``images`` best first: round robin, or Swiss rounds then challenge rounds among the
        leaders (at most 1.5·n·log2(n) comparisons in all), Bradley–Terry scores.

        All images are encoded first, in vision batches, each distinct content once; each round of
        the schedule is then one judge call over all its pairs (``_judge`` splits it into graph
        batches). With ``screen_one_order`` the Swiss rounds judge each game in one image order
        (half the rows); other rounds judge both orders.

        ``top_k``: how many to return (all when None); large pools spend their games on the items
        nearest the top_k cut. ``progress(done, planned)`` is called after each judge batch
        (``planned`` is an upper bound).
        """
        t_start = time.perf_counter()
        images = list(images)
        if not images:
            raise ValueError("rank needs at least one image")
        if top_k is not None and top_k < 1:
            raise ValueError("top_k must be at least 1")
        focus = min(top_k or 1, len(images))
        timings: dict = {}
        embeds, encoded = self._embed(images, timings)
        prompt = self.prompt(query, title)
        ids = prompt.ids

        cfg = self.config
        planned = tournament.planned_comparisons(len(images), cfg.round_robin_max, cfg.swiss_rounds or None,
                                                 cfg.rank_budget or None)
        done = [0]
        rows_per_pair = [2]

        def report(rows):
            done[0] += rows // rows_per_pair[0]
            if progress:
                progress(done[0], max(planned, done[0]))

        prefix = self._prefix_judge()  # the head's and each first creative's caches, kept over every round

        def compare(pairs):
            rows_per_pair[0] = 2
            logits = self._judge([(ids, embeds[i], embeds[j]) for i, j in pairs], timings, on_batch=report, prefix=prefix)
            return [float(x) for x in p_a_orders(logits).mean(-1)]

        shown_first = [0] * len(images)

        def screen(pairs):
            """One image order per game, the item shown first less often going first (as colours
            alternate in a chess Swiss), so position bias evens out over the rounds."""
            shown = [(i, j) if shown_first[i] <= shown_first[j] else (j, i) for i, j in pairs]
            for first, _ in shown:
                shown_first[first] += 1
            rows_per_pair[0] = 1
            p_first = softmax_first(self._judge([(ids, embeds[a], embeds[b]) for a, b in shown], timings,
                                                both_orders=False, on_batch=report, prefix=prefix))
            return [float(p if a == i else 1.0 - p) for (i, _), (a, _), p in zip(pairs, shown, p_first)]

        result = tournament.run(
            len(images), compare, top_k=focus, round_robin_max=cfg.round_robin_max,
            swiss_rounds=cfg.swiss_rounds or None, finalists=cfg.finalists or None,
            screen=screen if cfg.screen_one_order else None, budget=cfg.rank_budget or None,
        )
        if progress:
            progress(done[0], done[0])
        timings["total"] = time.perf_counter() - t_start
        return RankResult(result.order[: top_k or len(images)], result.scores, result.comparisons, result.strategy, encoded,
                          {k: round(v * 1000, 3) for k, v in timings.items()}, result.rounds, prompt.truncated)


def _add(timings: dict, stage: str, seconds: float) -> None:
    timings[stage] = timings.get(stage, 0.0) + seconds
