"""Child process of benchmarks 3 and 4: run station pulls exactly as the USGS operator does
(``operators.observations.pull_observations`` + ``UsgsWaterDataHook()``, no Airflow), instrumented.

    python bench/pull_child.py SPEC_JSON

SPEC: {"config_id", "stations": [...], "data_type", "pull_start_date", "now", optional
"max_chunk_days" (overrides the hook's MAX_CHUNK for the data type: a proposal being measured)}. The database comes
from ``STREAMFLOW_DATABASE_URL``, the service from ``AIRFLOW_CONN_USGS_WATERDATA``.

Instrumentation (timing wrappers only, nothing replaced): ``httpx.AsyncClient.send`` (request
sent → whole body received, i.e. network + the service's own time), ``httpx.Response.json``
(JSON decoding), ``UsgsWaterDataHook._call`` (the whole dataretrieval call), the hook's
``_to_observations`` (our payload → canonical frame), and every ``session_scope`` block of
``streamflow.operators.observations`` and ``streamflow.operators.base`` (all database work: reads, upserts, progress, commits). RSS is sampled after
each chunk is committed (``repository.advance_progress``) and reported with ``ru_maxrss``.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize() / 1024 / 1024


def main() -> None:
    spec = json.loads(sys.argv[1])
    rss_start = _rss_mb()
    import httpx

    from streamflow.operators import base as pull_base
    from streamflow.operators import observations as pulls
    from streamflow.configurations import StationSpec
    from streamflow.db import repository as repo
    from streamflow.db.engine import get_engine
    from streamflow.hooks.usgs import UsgsWaterDataHook
    from streamflow.trigger_params import RunParams
    from streamflow.vocabulary import Agency, DataStrategy, DataType

    timers = {"http": 0.0, "json": 0.0, "library_call": 0.0, "our_parsing": 0.0, "database": 0.0}
    counts = {"http_requests": 0}
    chunk_rss: list[float] = []

    original_send = httpx.AsyncClient.send

    async def send(self, *args, **kwargs):
        t = time.perf_counter()
        try:
            return await original_send(self, *args, **kwargs)
        finally:
            timers["http"] += time.perf_counter() - t
            counts["http_requests"] += 1

    original_json = httpx.Response.json

    def response_json(self, *args, **kwargs):
        t = time.perf_counter()
        try:
            return original_json(self, *args, **kwargs)
        finally:
            timers["json"] += time.perf_counter() - t

    def timed(name, function):
        def wrapper(*args, **kwargs):
            t = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                timers[name] += time.perf_counter() - t

        return wrapper

    original_scope = pulls.session_scope

    @contextmanager
    def session_scope(*args, **kwargs):
        t = time.perf_counter()
        try:
            with original_scope(*args, **kwargs) as session:
                yield session
        finally:
            timers["database"] += time.perf_counter() - t

    original_advance = repo.advance_progress

    def advance_progress(*args, **kwargs):
        result = original_advance(*args, **kwargs)
        chunk_rss.append(round(_rss_mb(), 1))
        return result

    httpx.AsyncClient.send = send
    httpx.Response.json = response_json
    UsgsWaterDataHook._call = timed("library_call", UsgsWaterDataHook._call)
    UsgsWaterDataHook._to_observations = timed("our_parsing", UsgsWaterDataHook._to_observations)
    pulls.session_scope = session_scope
    pull_base.session_scope = session_scope  # the station row (ensure_station_id)
    repo.advance_progress = advance_progress

    if spec.get("max_chunk_days"):  # a measured proposal (benchmark 4), not the shipped setting
        UsgsWaterDataHook.MAX_CHUNK = {
            **UsgsWaterDataHook.MAX_CHUNK, spec["data_type"]: timedelta(days=spec["max_chunk_days"])
        }
    engine = get_engine()
    target = pull_base.PullTarget(
        spec["config_id"], DataType(spec["data_type"]), DataStrategy.APPEND,
        datetime.fromisoformat(spec["pull_start_date"]),
    )
    now = datetime.fromisoformat(spec["now"])
    hook = UsgsWaterDataHook()
    rss_ready = _rss_mb()
    rows = written = chunks = 0
    started = time.perf_counter()
    for number in spec["stations"]:
        outcome = pulls.pull_observations(
            engine=engine, hook=hook, target=target, station=StationSpec(number, Agency.USGS),
            params=RunParams(), now=now,
        )
        if outcome.status != "success":
            raise SystemExit(f"station {number}: {outcome.status}: {outcome.message}")
        rows += outcome.rows_fetched
        written += outcome.rows_written
        chunks += outcome.chunks_done
    wall = time.perf_counter() - started
    print(json.dumps({
        "wall_s": wall, "rows": rows, "written": written, "chunks": chunks, "stations": len(spec["stations"]),
        **timers, **counts, "rss_start_mb": rss_start, "rss_ready_mb": rss_ready, "chunk_rss_mb": chunk_rss,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


if __name__ == "__main__":
    main()
