"""A local HTTP server that replays recorded (or hand-made) service responses.

Tests register routes, point the Airflow connections at ``server.url`` and inspect
``server.requests`` afterwards. Nothing here ever reaches the internet.

Every server counts the requests in flight per service (``in_flight``, and the most seen at once
in ``max_in_flight``; the service of a path is ``service_of(path)``: ``usgs``, ``eccc``, ``noaa``,
else ``other``). ``load(service, LoadProfile(...))`` makes a service answer like the real one
under load: latency, and on some requests a 429 with ``Retry-After`` or a 503 first. Which
requests is a function of the seed and the request itself (method, path, query) — not of the
order requests arrive in — so a test sees the same answers on every run; a retry of the same
request is answered normally.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from streamflow.testing import FIXTURES


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class Response:
    status: int = 200
    body: bytes | str | dict | list = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to sleep before answering (timeouts)
    truncate: bool = False  # announce the full length, send half, close (a cut-off page)
    reset: bool = False  # close the connection without an answer


Handler = Callable[[Request], Response]


def service_of(path: str) -> str:
    """The upstream service a request path belongs to (the pools are per service)."""
    if path.startswith("/ogcapi/"):
        return "usgs"
    if path.startswith(("/today/", "/services/", "/wateroffice/")):
        return "eccc"
    if path.startswith("/nwps/"):
        return "noaa"
    return "other"


@dataclass(frozen=True)
class LoadProfile:
    """How a service answers under load. Ratios are of distinct requests (0.02 = 2 %)."""

    latency: float = 0.0  # seconds added to every answer
    jitter: float = 0.0  # up to this many seconds more, fixed per request
    throttle_ratio: float = 0.0  # first try answered 429 Too Many Requests
    retry_after: int = 1  # seconds, the 429's Retry-After header
    unavailable_ratio: float = 0.0  # first try answered 503 Service Unavailable
    seed: int = 0

    def _fraction(self, key: str, salt: str) -> float:
        digest = hashlib.blake2b(f"{self.seed}|{salt}|{key}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2**64

    def answer(self, key: str, attempt: int) -> tuple[float, Response | None]:
        """(delay, an error answer or None) for the ``attempt``-th (0-based) identical request."""
        delay = self.latency + self.jitter * self._fraction(key, "jitter")
        if attempt == 0:
            pick = self._fraction(key, "error")
            if pick < self.throttle_ratio:
                return delay, Response(429, {"code": "TooManyRequests", "description": "stand-in: rate limited"},
                                       headers={"Retry-After": str(self.retry_after)})
            if pick < self.throttle_ratio + self.unavailable_ratio:
                return delay, Response(503, "stand-in: service unavailable", headers={"Content-Type": "text/plain"})
        return delay, None


@dataclass
class Route:
    path: str
    handler: Handler
    method: str = "GET"
    query: dict[str, str] | None = None  # every listed arg must equal this value
    times: int | None = None  # answer this many times, then let later routes answer
    hits: int = 0

    def matches(self, request: Request) -> bool:
        if request.method != self.method or request.path.rstrip("/") != self.path.rstrip("/"):
            return False
        if self.times is not None and self.hits >= self.times:
            return False
        for key, value in (self.query or {}).items():
            if request.arg(key) != value:
                return False
        return True


def fixture_bytes(relative: str) -> bytes:
    return (FIXTURES / relative).read_bytes()


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        # A client that gave up (a timeout test) leaves a broken pipe behind: expected, not news.
        import sys

        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


class ReplayServer:
    def __init__(self) -> None:
        self.routes: list[Route] = []
        self.requests: list[Request] = []
        self.unmatched: list[Request] = []
        self.in_flight: Counter[str] = Counter()
        self.max_in_flight: Counter[str] = Counter()
        self.errors_sent: Counter[tuple[str, int]] = Counter()  # (service, status) of LoadProfile errors
        self.profiles: dict[str, LoadProfile] = {}
        self._attempts: Counter[str] = Counter()
        self._lock = threading.Lock()
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep pytest output clean
                pass

            def _handle(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query, keep_blank_values=True),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length) if length else b"",
                )
                service = service_of(request.path)
                with server._lock:
                    server.in_flight[service] += 1
                    server.max_in_flight[service] = max(server.max_in_flight[service], server.in_flight[service])
                try:
                    self._answer(request, service)
                finally:
                    with server._lock:
                        server.in_flight[service] -= 1

            def _answer(self, request: Request, service: str) -> None:
                response = server._dispatch(request)
                profile = server.profiles.get(service)
                if profile is not None:
                    key = f"{request.method} {self.path}"
                    with server._lock:
                        attempt = server._attempts[key]
                        server._attempts[key] += 1
                    delay, error = profile.answer(key, attempt)
                    if delay:
                        time.sleep(delay)
                    if error is not None:
                        with server._lock:
                            server.errors_sent[(service, error.status)] += 1
                        response = error
                if response.delay:
                    time.sleep(response.delay)
                if response.reset:
                    self.close_connection = True
                    self.connection.close()
                    return
                body = response.body
                headers = dict(response.headers)
                if isinstance(body, (dict, list)):
                    body = json.dumps(body).encode()
                    headers.setdefault("Content-Type", "application/json")
                elif isinstance(body, str):
                    body = body.encode("utf-8")
                if "gzip" in self.headers.get("Accept-Encoding", "") and headers.pop("X-Gzip", None):
                    body = gzip.compress(body)
                    headers["Content-Encoding"] = "gzip"
                self.send_response(response.status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if response.truncate:
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self.wfile.write(body)

            do_GET = do_POST = _handle

        self._server = _QuietServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> ReplayServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def add(
        self,
        path: str,
        response: Response | Handler | bytes | str | dict | list,
        *,
        method: str = "GET",
        query: dict[str, str] | None = None,
        times: int | None = None,
        status: int = 200,
        headers: dict[str, str] | None = None,
        first: bool = False,
    ) -> Route:
        """Answer requests for ``path``. Routes are tried in order; ``first=True`` puts one in front."""
        if callable(response):
            handler = response
        elif isinstance(response, Response):
            handler = lambda _req, r=response: r  # noqa: E731
        else:
            fixed = Response(status=status, body=response, headers=dict(headers or {}))
            handler = lambda _req, r=fixed: r  # noqa: E731
        route = Route(path=path, handler=handler, method=method, query=query, times=times)
        with self._lock:
            if first:
                self.routes.insert(0, route)
            else:
                self.routes.append(route)
        return route

    def load(self, service: str, profile: LoadProfile | None) -> None:
        """Answer ``service`` (see ``service_of``) like the real one under load; None: no more."""
        with self._lock:
            if profile is None:
                self.profiles.pop(service, None)
            else:
                self.profiles[service] = profile

    def clear(self) -> None:
        with self._lock:
            self.routes.clear()
            self.requests.clear()
            self.unmatched.clear()
            self.max_in_flight.clear()
            self.errors_sent.clear()
            self._attempts.clear()

    def requests_to(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path.rstrip("/") == path.rstrip("/")]

    def _dispatch(self, request: Request) -> Response:
        with self._lock:
            self.requests.append(request)
            for route in self.routes:
                if route.matches(request):
                    route.hits += 1
                    handler = route.handler
                    break
            else:
                self.unmatched.append(request)
                return Response(404, {"code": "NotFound", "description": f"no replay route for {request.path}"})
        return handler(request)
