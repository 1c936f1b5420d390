"""A fast stand-in USGS Water Data OGC API for benchmarks 3 and 4.

It extends the test suite's stand-in (``streamflow.testing.fakes.usgs``: the recorded feature shape of
``tests/fixtures/usgs/``, deterministic synthetic values, cursor paging with ``next`` links) so that
long windows stay cheap to serve: only the requested page is built (the test stand-in builds the
whole window for every page), ``properties`` and ``skipGeometry`` are honoured the way the service
honours them (the hook asks for 7 properties; daily requests skip the geometry), and the
continuous series can have a 5-minute step (many USGS gauges report every 5 minutes; the recorded
01646500 answer does). Page size is the service's maximum, 50,000 features.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from urllib.parse import urlencode

from streamflow.testing.fakes.usgs import FakeUsgs, _parse_instant
from streamflow.testing.replay import ReplayServer, Request, Response

UTC = timezone.utc
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class FastUsgs(FakeUsgs):
    def __init__(self, server: ReplayServer, *, until: datetime, step: timedelta = timedelta(minutes=15),
                 page_size: int = 50_000) -> None:
        super().__init__(server, until=until, page_size=page_size)
        self.step = step
        self.bytes_served = 0
        self.pages_served = 0

    # ------------------------------------------------------------------ series arithmetic

    def _instants(self, start: datetime, end: datetime) -> tuple[datetime, int]:
        end = min(end, self.until)
        first = start + (-(start - EPOCH) % self.step)
        count = int((end - first) / self.step) + 1 if end >= first else 0
        return first, count

    def _page_bounds(self, request: Request, total: int) -> tuple[int, int]:
        offset = int(request.arg("cursor") or 0)
        limit = min(int(request.arg("limit") or self.page_size), self.page_size)
        return offset, min(offset + limit, total)

    def _feature(self, template: dict, request: Request, props: dict, fid: str) -> dict:
        wanted = request.arg("properties")
        base = template["properties"]
        properties = {**base, **props}
        if wanted:
            properties = {k: properties.get(k) for k in wanted.split(",")}
        feature = {"type": "Feature", "properties": properties, "id": fid}
        if (request.arg("skipGeometry") or "false").lower() != "true":
            feature["geometry"] = template["geometry"]
        return feature

    def _respond(self, request: Request, features: list[dict], offset: int, end: int, total: int) -> Response:
        links = []
        if end < total:
            query = {k: v[0] for k, v in request.query.items()}
            query["cursor"] = str(end)
            links.append({"rel": "next", "type": "application/geo+json", "title": "Items (next)",
                          "href": f"{self.server.url}{request.path}?{urlencode(query)}"})
        body = json.dumps({"type": "FeatureCollection", "features": features, "numberReturned": len(features),
                           "links": links}).encode()
        self.bytes_served += len(body)
        self.pages_served += 1
        return Response(200, body, headers={"Content-Type": "application/geo+json"})

    # ------------------------------------------------------------------ handlers

    def _serve_daily(self, request: Request) -> Response:
        first, last = (date.fromisoformat(p[:10]) for p in (request.arg("time") or "").split("/"))
        last = min(last, self.until.date())
        days = (last - first).days + 1 if last >= first else 0
        stations = [s for s in self._stations(request) if s not in self.unknown]
        total = days * len(stations)
        offset, end = self._page_bounds(request, total)
        features = []
        for i in range(offset, end):
            station, day = stations[i // days], first + timedelta(days=i % days)
            key = day.isoformat()
            features.append(self._feature(self._daily, request, {
                "monitoring_location_id": f"USGS-{station}", "time": key, "value": f"{self.value(station, key):g}",
                "approval_status": "Approved" if day < (self.until - timedelta(days=365)).date() else "Provisional",
            }, f"{station}-{key}"))
        return self._respond(request, features, offset, end, total)

    def _serve_continuous(self, request: Request) -> Response:
        start, stop = (_parse_instant(p) for p in (request.arg("time") or "").split("/"))
        first, count = self._instants(start, stop)
        stations = [s for s in self._stations(request) if s not in self.unknown]
        total = count * len(stations)
        offset, end = self._page_bounds(request, total)
        features = []
        for i in range(offset, end):
            station, instant = stations[i // count], first + self.step * (i % count)
            key = instant.isoformat()
            features.append(self._feature(self._continuous, request, {
                "monitoring_location_id": f"USGS-{station}", "time": key, "value": f"{self.value(station, key):g}",
                "approval_status": "Provisional", "qualifier": None,
            }, f"{station}-{key}"))
        return self._respond(request, features, offset, end, total)
