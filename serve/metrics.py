"""Prometheus metrics of one server, in a registry of its own (several apps in one process never clash)."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64)


class ServeMetrics:
    """Requests, latency (whole request and per Selector stage), batch sizes, queue depth, errors by kind."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self):
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("c4u_requests", "HTTP requests answered, by endpoint and status code.", ["endpoint", "status"], registry=r)
        self.latency = Histogram("c4u_request_seconds", "Wall time of a request in the server, by endpoint.", ["endpoint"], buckets=_LATENCY_BUCKETS, registry=r)
        self.stage = Histogram("c4u_stage_seconds", "Selector stage time per batch call (decode = image decoding and preprocessing in the server; preprocess, vision, judge, explain, total from the Selector; queue = wait before the batch ran).",
                               ["stage"], buckets=_LATENCY_BUCKETS, registry=r)
        self.batch_pairs = Histogram("c4u_batch_pairs", "Compare pairs per Selector.compare_many call.", buckets=_BATCH_BUCKETS, registry=r)
        self.queue_depth = Gauge("c4u_queue_depth", "Compare and rank requests admitted and not yet answered (queued or running).", registry=r)
        self.reading = Gauge("c4u_reading", "Requests whose body is still arriving or whose images are decoding (they hold no queue slot).", registry=r)
        self.errors = Counter("c4u_errors", "Requests refused or failed, by kind (bad_image, too_large, text_too_long, bad_request, unauthorized, timeout, busy, overloaded, not_ready, internal, ...).", ["kind"], registry=r)
        self.ready = Gauge("c4u_ready", "1 once the graphs are loaded and the warm-up compare is done.", registry=r)
        self.images_encoded = Gauge("c4u_images_encoded", "Vision encodes since load (embedding cache hits excluded).", registry=r)

    def observe_timings(self, timings_ms: dict) -> None:
        for stage, ms in timings_ms.items():
            self.stage.labels(stage).observe(ms / 1000.0)

    def render(self) -> bytes:
        return generate_latest(self.registry)
