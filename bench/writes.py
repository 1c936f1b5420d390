"""(1) Write throughput of observations through our repository vs raw COPY vs row-at-a-time ORM.

Design ("half of them revisions"): ``STATIONS`` stations × ``INSTANTS`` 15-minute instants
(20 × 50,000 = 1,000,000 rows). First the older half of every station's instants is loaded
(500,000 rows, all new: timed as "initial load"). Then the measured upsert offers all 1,000,000
rows: the 500,000 already stored come back revised (discharge × 1.05, quality ``P`` → ``A``), the
other 500,000 are new. Every station is one transaction of 50,000 rows (one chunk of a realistic
pull) through ``streamflow.db.repository.upsert_observations`` inside ``session_scope``; the
frames are built before the clock starts, canonical as the hooks hand them over (the repository's
own ``canonical_observations`` call, which then only checks the shape, is timed).

Ceilings, measured *paired* with the upsert (chunk i is upserted, then the same chunk i is
COPYed, so all see the same machine load), each into its own empty
``CREATE TABLE … (LIKE discharge_observations INCLUDING ALL)`` (same columns and indexes, no
foreign key, no triggers), one commit per chunk, both starting from the same canonical frame
as the upsert:

* **binary COPY** — the frame encoded to PostgreSQL's binary COPY format by the same numpy
  encoder the repository uses (`streamflow.db.pgcopy`), encoding timed: the fastest load of these
  rows we know, and the ceiling the target is judged against;
* *text COPY, `write_row`* — psycopg's per-row API, tuples built before the clock starts (the
  ceiling of the earlier runs, kept for comparison).

Per-row FK variant: the same load and 50/50 upsert in a second scratch database migrated to
revision 0006 (the declarative foreign key to ``stations`` checked by PostgreSQL's per-row
trigger, before ADR 0005), with its own paired binary ceiling.

On SQLite, which has no COPY, the ceiling is a plain ``executemany`` INSERT into an empty copy
with the same indexes. Row-at-a-time: the seed's approach, one ORM object and one commit per row,
20,000 rows of a separate station.
"""

from __future__ import annotations

import cProfile
import io
import logging
import pstats
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from bench.common import Section, Table, rate, ratio, scratch_database, secs, stopwatch

log = logging.getLogger("bench.writes")

STATIONS = 20
INSTANTS = 50_000  # per station: ~521 days of 15-minute values = one 50,000-row transaction
ROW_AT_A_TIME = 20_000
START = datetime(2015, 1, 1, tzinfo=UTC)
STEP = timedelta(minutes=15)
COLUMNS = "(station_id, observed_at, discharge, unit, type, quality_code)"
PROBE = 900_000  # station index of the probe used for the phase split / EXPLAIN / profile

WHY = """**How the write path reaches COPY speed (ADR 0002, ADR 0005).** `upsert_observations` on
PostgreSQL no longer merges through `INSERT … ON CONFLICT`: per station and type it takes an
advisory lock, reads what is stored in the chunk's time window (one index range scan, packed by
the server into a single bytea of fixed-width records, so no Python object per row and no
garbage-collector pauses), diffs in numpy, DELETEs the stored versions of revised rows by runs of
consecutive instants (a range scan per run: ~5× cheaper than a DELETE by id list; a DELETE only
marks rows, no index work) and COPYs the new and revised rows in PostgreSQL's binary format
straight into `discharge_observations` — COPY inserts in multi-row batches (`heap_multi_insert`),
which `INSERT … SELECT` cannot. The earlier merge cost ~8 µs per row (speculative insertion, a
tuple lock and a non-HOT update per revision, ~5.5 WAL records per row). The other half of the
gap was the foreign key: PostgreSQL checks it with one trigger call per inserted row, about as
much as the COPY of the row itself (the per-row FK variant above); revision 0007 replaces it, on
PostgreSQL, by one set-based check per statement with the same guarantees (ADR 0005). What
remains above the ceiling is mostly inside the COPY: the ceiling appends to an empty table whose
unique index grows only at its right edge, while the real table takes each station's keys in the
middle of its index, and every revised key is re-inserted next to its deleted version (a
uniqueness check that visits the old row); the window read, diff, DELETE and encoding together
are ~15 % of a chunk."""


def station_number(index: int) -> str:
    return f"09{index:06d}"  # USGS-shaped, 8 digits


def station_frame(index: int, *, revised: bool, half_only: bool = False) -> pd.DataFrame:
    """One station's rows; ``half_only`` = the older half (the preload), ``revised`` = the final values."""
    count = INSTANTS // 2 if half_only else INSTANTS
    times = pd.date_range(START, periods=count, freq="15min", tz="UTC").astype("datetime64[us, UTC]")
    rng = np.random.default_rng(index)
    values = np.round(rng.gamma(2.0, 150.0, count), 2)
    quality = np.full(count, "P", dtype=object)
    if revised:  # the older half (already stored) comes back revised and approved
        half = INSTANTS // 2
        values[:half] = np.round(values[:half] * 1.05, 2)
        quality[:half] = "A"
    from streamflow.canonical import canonical_observations

    return canonical_observations(pd.DataFrame(  # as a hook hands a chunk to the repository
        {
            "station_number": station_number(index),
            "observed_at": times,
            "discharge": values,
            "unit": "cfs",
            "quality_code": quality,
            "data_type": "realtime_15min",
        }
    ))


def frames(revised: bool, *, half_only: bool = False) -> list[pd.DataFrame]:
    return [station_frame(s, revised=revised, half_only=half_only) for s in range(STATIONS)]


def station_ids(engine, indexes) -> dict[str, int]:
    from streamflow.db import repository as repo
    from streamflow.db.engine import session_scope

    ids = {}
    with session_scope(engine) as session:
        for s in indexes:
            ids[station_number(s)] = repo.ensure_station(session, station_number(s), "USGS")
    return ids


def tuples(frame: pd.DataFrame, ids: dict[str, int]) -> list[tuple]:
    return list(
        zip(
            frame["station_number"].map(ids).tolist(),
            frame["observed_at"].dt.to_pydatetime(),
            frame["discharge"].tolist(),
            frame["unit"].tolist(),
            frame["data_type"].tolist(),
            frame["quality_code"].tolist(),
            strict=True,
        )
    )


def upsert(engine, frame: pd.DataFrame, ids: dict[str, int]) -> tuple[float, int, int]:
    """One chunk through the repository in one transaction: (seconds, rows offered, rows written)."""
    from streamflow.db import repository as repo
    from streamflow.db.engine import session_scope

    with stopwatch() as t, session_scope(engine) as session:
        result = repo.upsert_observations(session, frame, ids)
    return t[0], result.rows_in, result.rows_written


# --------------------------------------------------------------------------- ceilings


def binary_payload(frame: pd.DataFrame, ids: dict[str, int]) -> bytes:
    """The frame's rows as one binary COPY stream, by the repository's own encoder."""
    import numpy as np

    from streamflow.db.repository import _ObservationArrays

    (number, kind), = frame[["station_number", "data_type"]].drop_duplicates().itertuples(index=False)
    arrays = _ObservationArrays.of(frame)
    return arrays.payload(ids[number], kind, np.ones(len(frame), dtype=bool))


class PostgresCeiling:
    """COPY into empty ``LIKE discharge_observations INCLUDING ALL`` tables, chunk by chunk."""

    name = "raw binary COPY into empty LIKE copy (ceiling)"
    text_name = "raw text COPY (`write_row`) into empty LIKE copy"

    def __init__(self, engine, *, with_text: bool = True) -> None:
        self.raw = engine.raw_connection()
        self.driver = self.raw.driver_connection
        self.tables = ["bench_copy_binary"] + (["bench_copy_text"] if with_text else [])
        with self.driver.cursor() as cur:
            for table in self.tables:
                cur.execute(f"DROP TABLE IF EXISTS {table}")
                cur.execute(f"CREATE TABLE {table} (LIKE discharge_observations INCLUDING ALL)")
        self.driver.commit()

    def write_binary(self, frame: pd.DataFrame, ids: dict[str, int]) -> float:
        with stopwatch() as t:
            payload = binary_payload(frame, ids)
            with self.driver.cursor() as cur:
                with cur.copy(f"COPY bench_copy_binary {COLUMNS} FROM STDIN (FORMAT BINARY)") as copy:
                    copy.write(payload)
            self.driver.commit()
        return t[0]

    def write_text(self, rows: list[tuple]) -> float:
        with stopwatch() as t:
            with self.driver.cursor() as cur:
                with cur.copy(f"COPY bench_copy_text {COLUMNS} FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            self.driver.commit()
        return t[0]

    def close(self) -> list[int]:
        counts = []
        with self.driver.cursor() as cur:
            for table in self.tables:
                cur.execute(f"SELECT count(*) FROM {table}")
                counts.append(cur.fetchone()[0])
                cur.execute(f"DROP TABLE {table}")
        self.driver.commit()
        self.raw.close()
        return counts


class SqliteCeiling:
    """SQLite has no COPY: plain executemany INSERT into an empty copy with the same indexes."""

    name = "raw executemany INSERT into empty copy (ceiling)"

    def __init__(self, engine) -> None:
        self.raw = engine.raw_connection()
        self.driver = self.raw.driver_connection
        self.driver.execute("DROP TABLE IF EXISTS bench_copy_target")
        self.driver.execute(
            "CREATE TABLE bench_copy_target (id INTEGER NOT NULL PRIMARY KEY, station_id INTEGER NOT NULL "
            "REFERENCES stations (id), observed_at DATETIME NOT NULL, discharge FLOAT NOT NULL, "
            "unit VARCHAR(10) NOT NULL, type VARCHAR(20) NOT NULL, quality_code VARCHAR(10), "
            "UNIQUE (station_id, observed_at, type))"
        )
        self.driver.execute("CREATE INDEX ix_bench_copy_target_station_id ON bench_copy_target (station_id)")
        self.driver.commit()

    def write(self, rows: list[tuple]) -> float:
        # SQLAlchemy stores SQLite datetimes as 'YYYY-MM-DD HH:MM:SS.ffffff' text (UTC wall time).
        values = [(a, b.strftime("%Y-%m-%d %H:%M:%S.%f"), c, d, e, f) for a, b, c, d, e, f in rows]
        with stopwatch() as t:
            self.driver.executemany(f"INSERT INTO bench_copy_target {COLUMNS} VALUES (?, ?, ?, ?, ?, ?)", values)
            self.driver.commit()
        return t[0]

    def close(self) -> int:
        count = self.driver.execute("SELECT count(*) FROM bench_copy_target").fetchone()[0]
        self.driver.execute("DROP TABLE bench_copy_target")
        self.driver.commit()
        self.raw.close()
        return count


def row_at_a_time(engine, rows: int) -> float:
    from sqlalchemy.orm import Session
    from streamflow.db import repository as repo
    from streamflow.db.engine import session_scope
    from streamflow.db.models import DischargeObservation

    with session_scope(engine) as session:
        station_id = repo.ensure_station(session, "09999999", "USGS")
    times = [START + STEP * i for i in range(rows)]
    with stopwatch() as t, Session(engine) as session:
        for i, when in enumerate(times):
            session.add(
                DischargeObservation(
                    station_id=station_id, observed_at=when, discharge=float(i % 997), unit="cfs",
                    type="realtime_15min", quality_code="P",
                )
            )
            session.commit()
    return t[0]


# --------------------------------------------------------------------------- diagnosis


def _probe(engine) -> tuple[pd.DataFrame, dict[str, int]]:
    """A station with its older half stored; returns its revised frame (a real 50/50 chunk)."""
    ids = station_ids(engine, [PROBE])
    upsert(engine, station_frame(PROBE, revised=False, half_only=True), ids)
    return station_frame(PROBE, revised=True), ids


def phase_split_postgresql(engine, frame: pd.DataFrame, ids: dict[str, int]) -> dict[str, float]:
    """Where one 50/50 chunk's time goes inside upsert_observations: its steps, one by one, rolled back."""
    from sqlalchemy.orm import Session
    from streamflow.db import repository as repo
    from streamflow.canonical import canonical_observations

    out: dict[str, float] = {}
    with Session(engine) as session:
        cursor = session.connection().connection.driver_connection.cursor(binary=True)
        with stopwatch() as t:
            canon = canonical_observations(frame)
        out["canonical_observations (shape check: the frame is already canonical)"] = t[0]
        (number, kind), = canon[["station_number", "data_type"]].drop_duplicates().itertuples(index=False)
        station_id = ids[number]
        with stopwatch() as t:
            arrays = repo._ObservationArrays.of(canon)
        out["frame → numpy arrays"] = t[0]
        with stopwatch() as t:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", (repo._OBSERVATION_LOCK_CLASS, station_id))
            stored = repo._stored_window(cursor, station_id, kind, arrays)
        out[f"advisory lock + read the stored window ({len(stored[0]):,} rows, binary COPY out)"] = t[0]
        with stopwatch() as t:
            to_write, runs = arrays.diff(*stored)
        out["diff (numpy)"] = t[0]
        with stopwatch() as t:
            repo._delete_runs(cursor, station_id, kind, runs)
        out[f"DELETE the revised rows' stored versions ({len(runs)} run(s), {cursor.rowcount:,} rows)"] = t[0]
        with stopwatch() as t:
            payload = arrays.payload(station_id, kind, to_write)
        out[f"encode {int(to_write.sum()):,} rows as binary COPY ({len(payload) / 1e6:.1f} MB)"] = t[0]
        with stopwatch() as t:
            repo._copy_observations(cursor, payload)
        out["COPY into discharge_observations (+ the per-statement station check)"] = t[0]
        cursor.close()
        session.rollback()
    return out


def profile_chunk(engine, frame: pd.DataFrame, ids: dict[str, int]) -> str:
    """cProfile of one 50/50 chunk through upsert_observations (rolled back)."""
    from sqlalchemy.orm import Session
    from streamflow.db import repository as repo

    profiler = cProfile.Profile()
    with Session(engine) as session:
        profiler.enable()
        repo.upsert_observations(session, frame, ids)
        profiler.disable()
        session.rollback()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(14)
    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    return "\n".join(line.replace(str(Path.cwd()) + "/", "") for line in lines)


# --------------------------------------------------------------------------- run


def run_backend(kind: str, workdir: Path, *, revision: str | None = None) -> dict:
    """Load + paired 50/50 upsert/ceilings; ``revision``: migrate the scratch database down to it first
    (the per-row FK variant), which measures only the load, the upsert and its binary ceiling."""
    from sqlalchemy import text
    from streamflow.db import migrate
    from streamflow.db.engine import make_engine

    full = revision is None
    with scratch_database(kind, workdir) as url:
        engine = make_engine(url)
        if revision is not None:
            migrate.downgrade(engine, revision)
        ids = station_ids(engine, range(STATIONS))
        load = [upsert(engine, station_frame(s, revised=False, half_only=True), ids) for s in range(STATIONS)]
        postgres = kind == "postgresql"
        ceiling = PostgresCeiling(engine, with_text=full) if postgres else SqliteCeiling(engine)
        up, ceil, ceil_text = [], [], []
        for s in range(STATIONS):  # paired: chunk s upserted, then the same rows COPYed
            frame = station_frame(s, revised=True)
            rows = tuples(frame, ids) if (full or not postgres) else None
            up.append(upsert(engine, frame, ids))
            if postgres:
                ceil.append(ceiling.write_binary(frame, ids))
                if full:
                    ceil_text.append(ceiling.write_text(rows))
            else:
                ceil.append(ceiling.write(rows))
        copied = ceiling.close()
        copied = copied if isinstance(copied, list) else [copied]
        with engine.connect() as conn:
            stored, approved = conn.execute(
                text("SELECT count(*), sum(CASE WHEN quality_code = 'A' THEN 1 ELSE 0 END) FROM discharge_observations")
            ).one()
        if (stored != STATIONS * INSTANTS or approved != STATIONS * (INSTANTS // 2)
                or any(c != STATIONS * INSTANTS for c in copied)):
            raise RuntimeError(f"{kind}: {stored} rows stored ({approved} revised), {copied} copied: the benchmark is wrong")
        result = {
            "kind": kind,
            "load": tuple(map(sum, zip(*load))),
            "upsert": tuple(map(sum, zip(*up))),
            "ceiling": sum(ceil),
        }
        if full:
            again = [upsert(engine, station_frame(s, revised=True), ids) for s in range(4)]  # identical re-offer
            result["again"] = tuple(map(sum, zip(*again)))
            result["rowwise"] = row_at_a_time(engine, ROW_AT_A_TIME)
            probe_frame, probe_ids = _probe(engine)
            result["profile"] = profile_chunk(engine, probe_frame, probe_ids)
            if postgres:
                result["ceiling_text"] = sum(ceil_text)
                result["phases"] = phase_split_postgresql(engine, probe_frame, probe_ids)
        engine.dispose()
    log.info("%s%s: %s", kind, f" at {revision}" if revision else "",
             {k: v for k, v in result.items() if k in ("load", "upsert", "ceiling", "ceiling_text", "again", "rowwise")})
    return result


def run(workdir: Path, backends: list[str], *, variant: bool = True) -> Section:
    section = Section(
        "writes", "1. Write throughput: repository upsert vs raw COPY vs row-at-a-time",
        design=__doc__.split("\n", 2)[2],
    )
    table = Table("", ["database", "method", "rows", "seconds", "rows/s", "÷ ceiling", "÷ row-at-a-time"])
    results = [run_backend(kind, workdir) for kind in backends]
    for r in results:
        kind = r["kind"]
        up_s, up_rows, up_written = r["upsert"]
        ceiling_rate = up_rows / r["ceiling"]
        rowwise_rate = ROW_AT_A_TIME / r["rowwise"]
        load_s, load_rows, _ = r["load"]
        again_s, again_rows, again_written = r["again"]
        name = PostgresCeiling.name if kind == "postgresql" else SqliteCeiling.name
        lines = [
            ("repository upsert: initial load, all new", load_rows, load_s),
            (f"**repository upsert: 50% revised / 50% new** ({up_written:,} written)", up_rows, up_s),
            (f"repository upsert: identical re-offer ({again_written:,} written)", again_rows, again_s),
            (name, up_rows, r["ceiling"]),
        ]
        if "ceiling_text" in r:
            lines.append((PostgresCeiling.text_name, up_rows, r["ceiling_text"]))
        lines.append(("ORM row-at-a-time, commit per row (seed)", ROW_AT_A_TIME, r["rowwise"]))
        for label, rows, seconds in lines:
            per_s = rows / seconds
            table.add(kind, label, f"{rows:,}", secs(seconds), rate(rows, seconds), ratio(per_s, ceiling_rate),
                      ratio(per_s, rowwise_rate))
        if variant and kind == "postgresql":
            v = run_backend(kind, workdir, revision="0006")
            r["variant"] = v
            own = v["upsert"][1] / v["ceiling"]
            for label, rows, seconds in (
                ("*per-row FK variant (revision 0006)*: initial load, all new", v["load"][1], v["load"][0]),
                ("*per-row FK variant*: 50% revised / 50% new", v["upsert"][1], v["upsert"][0]),
                ("*per-row FK variant's own paired binary COPY ceiling*", v["upsert"][1], v["ceiling"]),
            ):
                table.add(kind, label, f"{rows:,}", secs(seconds), rate(rows, seconds), ratio(rows / seconds, own),
                          ratio(rows / seconds, rowwise_rate))
    section.tables.append(table)
    for r in results:
        if r["kind"] != "postgresql":
            continue
        up_s, up_rows, _ = r["upsert"]
        upsert_rate, copy_rate, rowwise_rate = up_rows / up_s, up_rows / r["ceiling"], ROW_AT_A_TIME / r["rowwise"]
        text_rate = up_rows / r["ceiling_text"]
        section.verdicts.append(
            f"PostgreSQL upsert ≥ 0.5× raw COPY: **{upsert_rate / copy_rate:.2f}×** the binary COPY "
            f"({upsert_rate:,.0f} vs {copy_rate:,.0f} rows/s) — {'met' if upsert_rate >= 0.5 * copy_rate else 'MISSED'}; "
            f"{upsert_rate / text_rate:.2f}× the text `write_row` COPY ({text_rate:,.0f} rows/s)"
        )
        section.verdicts.append(
            f"PostgreSQL upsert ≥ 50× row-at-a-time: **{upsert_rate / rowwise_rate:.0f}×** "
            f"({upsert_rate:,.0f} vs {rowwise_rate:,.0f} rows/s) — {'met' if upsert_rate >= 50 * rowwise_rate else 'MISSED'}"
        )
        if "variant" in r:
            v = r["variant"]
            section.verdicts.append(
                f"with the per-row FK of revision 0006 instead (ADR 0005 undone): 50/50 upsert "
                f"**{v['ceiling'] / v['upsert'][0]:.2f}×** its own paired binary COPY"
            )
        phases = r["phases"]
        total = sum(phases.values())
        split = Table(
            "PostgreSQL: where one 50,000-row 50/50 chunk's time goes in upsert_observations "
            "(steps timed one by one, rolled back, so without the commit)",
            ["step", "seconds", "share"],
        )
        for step, seconds in phases.items():
            split.add(step, f"{seconds:.3f}", f"{seconds / total:.0%}")
        section.tables.append(split)
        section.notes.append(WHY)
    for r in results:
        section.notes.append(
            f"cProfile of that chunk through `upsert_observations` ({r['kind']}), by cumulative time:\n\n```\n"
            + r["profile"] + "\n```"
        )
    return section
