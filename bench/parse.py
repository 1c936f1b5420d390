"""(2) DAG-file parse time and SQL statement count for 100, 1,000 and 5,000 configurations × 50 stations.

The streamflow database is seeded with bulk INSERTs (a realistic mix: 60 % USGS-only, 20 %
EC-only, 10 % mixed USGS+EC, 10 % NOAA forecasts; daily and 15-minute; append and overwrite; 1 in
10 disabled; 50 stations each). Each measurement is a fresh Python process
(``bench/parse_child.py``), like a DAG processor or a worker starting a task:

* ``generate_dags()`` — the factory's own time (one query, validation, building every DAG), after
  ``import airflow.sdk`` and ``import streamflow.factory`` (reported apart);
* ``DagBag(dags/)`` — Airflow's own parse of the DAG file (import of the file, bagging each DAG,
  cycle checks): what the 30 s ``dagbag_import_timeout`` applies to;
* a worker's parse: ``get_parsing_context().dag_id`` set (``AIRFLOW__… _AIRFLOW_PARSING_CONTEXT_DAG_ID``),
  so only the one DAG being run is read and built.

Statements are counted with a SQLAlchemy ``before_cursor_execute`` listener on every engine of the
child process (statements against the streamflow database; Airflow's own metadata queries, if any,
reported apart). Median of ``REPEAT`` (3) fresh processes up to 1,000 configurations, one at
5,000; the first process writes the last-known-good snapshot, the later ones find it unchanged.
Airflow's ``dagbag_import_timeout`` (30 s by default) applies to the DagBag column.
"""

from __future__ import annotations

import json
import logging
import statistics
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from bench.common import REPO_ROOT, Section, Table, bench_env, python, scratch_database, stopwatch

log = logging.getLogger("bench.parse")

PROPOSAL = """**Where the time goes, and the change adopted from this benchmark.** Building each DAG costs ~3 ms; the
largest single part is Airflow validating the five trigger `Param`s of every scheduled DAG: `Param.resolve`
calls `jsonschema.validate`, which first checks the Param's schema against its metaschema — JSON
Schema 2020-12 by default, whose `$dynamicRef`-heavy metaschema is slow to walk (the profile below:
`check_schema` → `descend`/`ref`). Airflow then deep-copies the Params into every operator
(`get_merged_defaults` → `Param.__deepcopy__`). Declaring the schema's draft in
`streamflow.trigger_params.trigger_params` — `Param(..., **{"$schema": "http://json-schema.org/draft-07/schema#"})`,
which the Params' keywords (`type`, `items`, `enum`, `format`) mean the same in — makes the
metaschema check ~4× cheaper (1.5 → 0.4 ms per DAG in isolation); it was adopted in commit
60f6275, and the "as before" line above measures the difference in the same run. (The profile
below is of the shipped factory.) The row validation (`config.validate_configuration`, ~0.3 ms per
configuration of 50 stations), the one query (~0.3 s for 50,000 station rows) and the snapshot
write (~0.1 s) are small next to it."""

SIZES = (100, 1_000, 5_000)
STATIONS_PER_CONFIG = 50
REPEAT = 3
TARGET_S = 3.0


def seed(url: str, configs: int) -> None:
    """``configs`` configurations × 50 stations through two bulk INSERTs."""
    from sqlalchemy import insert
    from streamflow.db.engine import make_engine
    from streamflow.db.models import PullConfiguration, PullConfigurationStation

    start = datetime(2015, 1, 1, tzinfo=UTC)
    now = datetime.now(UTC)
    rows, stations = [], []
    for i in range(1, configs + 1):
        bucket = i % 10
        kind = "usgs" if bucket < 6 else "ec" if bucket < 8 else "mixed" if bucket < 9 else "forecast"
        data_type = {
            "usgs": "realtime_15min" if i % 2 else "daily_mean",
            "ec": "realtime_15min" if i % 2 else "daily_mean",
            "mixed": "daily_mean",
            "forecast": ("rfc_forecast", "nwm_short_range", "nwm_medium_range")[i % 3],
        }[kind]
        rows.append(
            {
                "id": i,
                "name": f"bench configuration {i:05d} ({kind})",
                "description": f"{STATIONS_PER_CONFIG} {kind} gauges, {data_type}",
                "data_type": data_type,
                "data_strategy": "overwrite" if i % 7 == 0 else "append",
                "pull_start_date": start,
                "is_enabled": i % 10 != 3,
                "schedule_type": ("hourly", "daily", "weekly", "cron", "manual")[i % 5],
                "schedule_value": "15 */6 * * *" if i % 5 == 3 else None,
                "created_at": now,
                "updated_at": now,
            }
        )
        for j in range(STATIONS_PER_CONFIG):
            ec = kind == "ec" or (kind == "mixed" and j % 2)
            number = f"{(i * 7 + j) % 10:02d}{chr(65 + j % 26)}{chr(65 + i % 26)}{j:03d}" if ec else f"{i:04d}{j:04d}"
            stations.append(
                {"config_id": i, "station_number": number, "station_name": f"gauge {number}",
                 "agency": "EC" if ec else "USGS"}
            )
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(insert(PullConfiguration), rows)
        for k in range(0, len(stations), 20_000):
            conn.execute(insert(PullConfigurationStation), stations[k : k + 20_000])
    engine.dispose()


def child(mode: str, url: str, workdir: Path, *, dag_id: str | None = None) -> dict:
    env = bench_env(
        {
            "STREAMFLOW_DATABASE_URL": url,
            "STREAMFLOW_SNAPSHOT_PATH": str(workdir / "snapshot.json"),
            "AIRFLOW_HOME": str(workdir / "airflow_home"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{workdir / 'airflow_home' / 'airflow.db'}",
        }
    )
    if dag_id:
        env["_AIRFLOW_PARSING_CONTEXT_DAG_ID"] = dag_id
        env["_AIRFLOW_PARSING_CONTEXT_TASK_ID"] = "plan"
    (workdir / "airflow_home").mkdir(parents=True, exist_ok=True)
    with stopwatch() as t:
        proc = subprocess.run(
            [python(), str(REPO_ROOT / "bench" / "parse_child.py"), mode, str(REPO_ROOT / "dags")],
            env=env, capture_output=True, text=True, cwd=REPO_ROOT, timeout=900,
        )
    if proc.returncode != 0:
        raise RuntimeError(f"parse child ({mode}) failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_s"] = t[0]
    return result


def _median(results: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in results)


def run(workdir: Path, backends: list[str], *, sizes=SIZES) -> Section:
    section = Section("parse", "2. DAG-file parse time and query count", design=__doc__.split("\n", 2)[2])
    table = Table(
        "",
        ["database", "configs × stations", "DAGs / tasks", "`generate_dags()` s", "SQL statements",
         "`DagBag(dags/)` s", "DagBag import errors", "process wall s (incl. interpreter + airflow import)",
         "worker parse (one DAG) s / statements", "peak RSS MB"],
    )
    profiles: dict[str, str] = {}
    previous: dict[str, tuple[int, float, float]] = {}
    verdicts = []
    for kind in backends:
        for size in sizes:
            run_dir = workdir / f"parse_{kind}_{size}"
            run_dir.mkdir(parents=True, exist_ok=True)
            with scratch_database(kind, run_dir) as url:
                with stopwatch() as t:
                    seed(url, size)
                log.info("%s: seeded %d configurations × %d stations in %.1f s", kind, size, STATIONS_PER_CONFIG, t[0])
                repeat = REPEAT if size <= 1_000 else 1
                factory_runs = [child("factory", url, run_dir) for _ in range(repeat)]
                bag_runs = [child("dagbag", url, run_dir) for _ in range(repeat)]
                worker_runs = [child("factory", url, run_dir, dag_id=f"streamflow_config_{size // 2}") for _ in range(repeat)]
                if size == sorted(sizes)[len(sizes) // 2]:
                    previous_runs = [child("previous", url, run_dir) for _ in range(repeat)]
                    previous[kind] = (size, _median(factory_runs, "generate_s"), _median(previous_runs, "generate_s"))
                    if kind == backends[0]:
                        profiles[f"{kind}, {size} configurations"] = child("profile", url, run_dir)["profile"]
            gen = _median(factory_runs, "generate_s")
            bag = _median(bag_runs, "dagbag_s")
            first = factory_runs[0]
            errors = bag_runs[0]["import_errors"]
            if first["dags"] != size + 1:  # one per configuration + streamflow_verification
                raise RuntimeError(f"{kind}/{size}: generate_dags() built {first['dags']} DAGs")
            table.add(
                kind, f"{size:,} × {STATIONS_PER_CONFIG}", f"{first['dags']:,} / {first['tasks']:,}", f"{gen:.2f}",
                f"{first['queries']} (+{first['other_queries']} Airflow)", f"{bag:.2f}",
                f"{errors}" if not errors else f"**{errors}** ({bag_runs[0]['dags']} DAGs bagged): {bag_runs[0]['import_error_text'][:200]}",
                f"{_median(factory_runs, 'process_s'):.2f}",
                f"{_median(worker_runs, 'generate_s'):.3f} / {worker_runs[0]['queries']}",
                f"{max(r['peak_rss_mb'] for r in factory_runs + bag_runs):.0f}",
            )
            log.info("%s/%d: generate %.2f s, DagBag %.2f s, %d statements", kind, size, gen, bag, first["queries"])
            if size == 1_000:
                verdicts.append(
                    f"{kind}: 1,000 configurations parse in < {TARGET_S:.0f} s: `generate_dags()` **{gen:.2f} s**, "
                    f"`DagBag` **{bag:.2f} s** — {'met' if max(gen, bag) < TARGET_S else 'MISSED'}"
                )
    section.tables.append(table)
    for kind, (size, shipped, before) in previous.items():
        verdicts.append(
            f"{kind}: the draft-07 Param schemas (commit 60f6275): `generate_dags()` for {size:,} configurations "
            f"**{shipped:.2f} s** as shipped vs {before:.2f} s with the Params' `$schema` removed (as before)"
        )
    section.verdicts = verdicts
    section.notes.append(PROPOSAL)
    for name, text in profiles.items():
        lines = [line for line in text.splitlines() if line.strip()]
        section.notes.append(
            f"cProfile of `generate_dags()` ({name}): top by cumulative, then by own time:\n\n```\n"
            + "\n".join(line.replace(str(REPO_ROOT) + "/", "") for line in lines) + "\n```"
        )
    return section
