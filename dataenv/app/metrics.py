"""Prometheus metrics of the API: requests by route and status, latency, in-flight.

An ASGI middleware (not BaseHTTPMiddleware: no extra task per request) that labels
each request with its route template (`/sales/summary`, never the raw path, so a
scan of random URLs cannot blow up the series count) once the router has matched it.

prometheus_client is imported when the first request is recorded, not at start: a
request is recorded after its response has gone out, so the first one (a readiness
probe, usually) is answered before the import, not after (about 8 ms of a 150 ms
start; docs/benchmarks.md, kube section). The in-flight gauge is a count of ours,
read by a collector at scrape time, since it must count from the first request on.
"""
from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Iterator, MutableMapping

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry, Counter, Histogram
    from prometheus_client.metrics_core import Metric
    from prometheus_client.registry import Collector

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

UNMATCHED = "<unmatched>"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _in_flight_collector(counts: dict[str, int]) -> Collector:
    """A collector of the in-flight counts, read when Prometheus scrapes."""
    from prometheus_client.core import GaugeMetricFamily
    from prometheus_client.registry import Collector

    class InFlight(Collector):
        def collect(self) -> Iterator[Metric]:
            family = GaugeMetricFamily(
                "http_requests_in_progress", "HTTP requests being answered now.", labels=["method"]
            )
            for method, n in sorted(counts.items()):
                family.add_metric([method], n)
            yield family

    return InFlight()


class Metrics:
    """The API's collectors, in a registry of their own (tests can make several)."""

    def __init__(self, version: str, revision: str) -> None:
        self.version = version
        self.revision = revision
        # requests being answered, by method; counted by the event loop's thread only
        self.in_flight: dict[str, int] = {}
        self._lock = threading.Lock()
        self._made: tuple[CollectorRegistry, Counter, Histogram] | None = None

    @property
    def registry(self) -> CollectorRegistry:
        """The registry with every collector in it."""
        return self._collectors()[0]

    def _collectors(self) -> tuple[CollectorRegistry, Counter, Histogram]:
        """The registry, the request counter and the latency histogram: made on first use."""
        made = self._made
        if made is None:
            with self._lock:
                made = self._made
                if made is None:
                    made = self._made = self._make()
        return made

    def _make(self) -> tuple[CollectorRegistry, Counter, Histogram]:
        from prometheus_client import CollectorRegistry, Counter, Histogram, Info

        registry = CollectorRegistry()
        requests = Counter(
            "http_requests",
            "HTTP requests answered, by method, route template and status code.",
            ["method", "route", "status"],
            registry=registry,
        )
        latency = Histogram(
            "http_request_duration_seconds",
            "Time from the request's arrival to the end of its response.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        registry.register(_in_flight_collector(self.in_flight))
        info = Info("dataenv_app", "The API's version and source revision.", registry=registry)
        info.info({"version": self.version, "revision": self.revision})
        return registry, requests, latency

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Records one answered request."""
        _, requests, latency = self._collectors()
        requests.labels(method, route, str(status)).inc()
        latency.labels(method, route).observe(seconds)

    def exposition(self) -> tuple[bytes, str]:
        """The text format Prometheus scrapes, and its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class MetricsMiddleware:
    """Counts and times every HTTP request that passes through the app."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope.get("method", "GET")
        status = 500
        start = time.perf_counter()

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        in_flight = self.metrics.in_flight
        in_flight[method] = in_flight.get(method, 0) + 1
        try:
            await self.app(scope, receive, send_status)
        finally:
            in_flight[method] -= 1
            # The router stores the matched route in the scope it was given.
            route = getattr(scope.get("route"), "path", None) or UNMATCHED
            self.metrics.observe(method, route, status, time.perf_counter() - start)
