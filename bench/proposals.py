"""A candidate change to ``repository._upsert_postgresql``, measured beside it (benchmark 1).

Hypothesis: rows newer than what a station already has stored cannot conflict, so they need
neither the staging table nor ``ON CONFLICT``; COPY them straight into
``discharge_observations`` and send only the rows at or before the stored maximum (the re-read
overlap, revisions) through the existing stage + ``INSERT … ON CONFLICT DO UPDATE``. A
transaction-scoped advisory lock per station keeps the "newer than the max" test safe against a
concurrent writer of the same station (two configurations pulling one gauge). Result on this
machine: no material change of the ratio to COPY (see the table) — the time is in PostgreSQL
writing new row versions and index entries, not in the staging round trip — so it is *not*
recommended; it stays here as the evidence. Not used by the package.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sqlalchemy import text

from bench.common import scratch_database, stopwatch

ADVISORY_NAMESPACE = 7_271_001  # first key of pg_advisory_xact_lock(int, int): "discharge_observations writer"
COLUMNS = "(station_id, observed_at, discharge, unit, type, quality_code)"


def upsert_split(session, frame: pd.DataFrame, station_ids: dict[str, int]) -> int:
    """What ``_upsert_postgresql`` would become; returns rows written."""
    from streamflow.db.repository import _STAGE_DDL, _observation_rows
    from streamflow.frames import canonical_observations
    from streamflow.sql import load_sql

    frame = canonical_observations(frame)
    connection = session.connection()
    raw = connection.connection.driver_connection
    overlap_parts, fresh_parts = [], []
    for (number, kind), group in frame.groupby(["station_number", "data_type"], sort=True):
        station_id = station_ids[number]
        connection.execute(text("SELECT pg_advisory_xact_lock(:ns, :sid)"), {"ns": ADVISORY_NAMESPACE, "sid": station_id})
        latest = connection.execute(
            text("SELECT max(observed_at) FROM discharge_observations WHERE station_id = :s AND type = :t"),
            {"s": station_id, "t": kind},
        ).scalar()
        if latest is None:
            fresh_parts.append(group)
            continue
        newer = group["observed_at"] > pd.Timestamp(latest)
        overlap_parts.append(group[~newer])
        fresh_parts.append(group[newer])
    written = 0
    overlap = pd.concat(overlap_parts) if overlap_parts else frame.iloc[:0]
    fresh = pd.concat(fresh_parts) if fresh_parts else frame.iloc[:0]
    if len(overlap):
        connection.execute(text(_STAGE_DDL))
        with raw.cursor() as cursor:
            with cursor.copy(f"COPY _streamflow_obs_stage {COLUMNS} FROM STDIN") as copy:
                for row in _observation_rows(overlap, station_ids):
                    copy.write_row(row)
        written += connection.execute(text(load_sql("upsert_observations_postgresql.sql"))).rowcount or 0
        connection.execute(text("TRUNCATE _streamflow_obs_stage"))
    if len(fresh):
        with raw.cursor() as cursor:
            with cursor.copy(f"COPY discharge_observations {COLUMNS} FROM STDIN") as copy:
                for row in _observation_rows(fresh, station_ids):
                    copy.write_row(row)
        written += len(fresh)
    return written


def _upsert(engine, frame, ids) -> tuple[float, int, int]:
    from streamflow.db.engine import session_scope

    with stopwatch() as t, session_scope(engine) as session:
        written = upsert_split(session, frame, ids)
    return t[0], len(frame), written


def measure(workdir: Path) -> dict:
    """The same paired design as benchmark 1, with ``upsert_split`` in place of the repository."""
    from streamflow.db.engine import make_engine

    from bench import writes

    with scratch_database("postgresql", workdir, prefix="sf_bench_proposal") as url:
        engine = make_engine(url)
        ids = writes.station_ids(engine, range(writes.STATIONS))
        load = [_upsert(engine, writes.station_frame(s, revised=False, half_only=True), ids) for s in range(writes.STATIONS)]
        ceiling = writes.PostgresCeiling(engine)
        up, ceil = [], []
        for s in range(writes.STATIONS):
            frame = writes.station_frame(s, revised=True)
            rows = writes.tuples(frame, ids)
            up.append(_upsert(engine, frame, ids))
            ceil.append(ceiling.write(rows))
        ceiling.close()
        with engine.connect() as conn:
            stored, approved = conn.execute(
                text("SELECT count(*), sum(CASE WHEN quality_code = 'A' THEN 1 ELSE 0 END) FROM discharge_observations")
            ).one()
        engine.dispose()
    if stored != writes.STATIONS * writes.INSTANTS or approved != writes.STATIONS * (writes.INSTANTS // 2):
        raise RuntimeError(f"proposal: {stored} rows stored ({approved} revised): the prototype is wrong")
    return {"load": tuple(map(sum, zip(*load))), "upsert": tuple(map(sum, zip(*up))), "ceiling": sum(ceil)}
