"""(4) Peak memory (RSS) of an instantaneous-values pull of one station: 1, 3 and 10 years.

A 5-minute series (many USGS gauges report every 5 minutes; the recorded 01646500 answer does),
so 10 years ≈ 1.05 million rows. The stand-in (``streamflow/testing/fakes/usgs_fast.py``) serves 50,000-row pages
from the benchmark's process; the pull runs alone in a fresh child process
(``bench/pull_child.py``: ``pull_observations`` with the USGS pull task's hook, no
Airflow) into a fresh PostgreSQL database, and reports its peak RSS (``ru_maxrss``), its RSS
once everything is imported (before the first request), and its RSS after each chunk is
committed. Chunks are the hook's ``MAX_CHUNK`` for 15-minute data — 180 days (≤ 51,840 rows at
5 minutes) since commit 60f6275, which adopted it from this benchmark; the last row re-runs the
10-year pull with the previous 1,000 days (≈ 288,000 rows per chunk) for comparison. Memory should
follow the chunk, not the history.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bench.common import Section, Table, postgres_available, scratch_database
from bench.e2e import configure, run_child

log = logging.getLogger("bench.memory")

YEARS = (1, 3, 10)
STEP = timedelta(minutes=5)
NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
LIMIT_MB = 500
PREVIOUS_CHUNK_DAYS = 1000  # the hook's setting before commit 60f6275 (now 180 days)
STATION = "01646500"


def run(workdir: Path, *, quick: bool = False) -> Section:
    from streamflow.testing.fakes.usgs_fast import FastUsgs
    from streamflow.testing.replay import ReplayServer

    section = Section("memory", "4. Peak memory of a long instantaneous pull (one station)", design=__doc__.split("\n", 2)[2])
    kind = "postgresql" if postgres_available() else "sqlite"
    table = Table("", ["history", "rows", "chunks", "wall s", "RSS after imports MB", "RSS after each chunk MB",
                       "peak RSS MB", "peak − imports MB"])
    peaks = {}
    runs = [(years, None) for years in ((1, 2) if quick else YEARS)]
    runs.append((runs[-1][0], PREVIOUS_CHUNK_DAYS))
    for years, chunk_days in runs:
        start = NOW - timedelta(days=round(365.25 * years))
        with ReplayServer() as server, scratch_database(kind, workdir, prefix="sf_bench_mem") as url:
            FastUsgs(server, until=NOW, step=STEP)
            config_id = configure(url, [STATION], "realtime_15min", start)
            home = workdir / "airflow_home_memory"
            home.mkdir(exist_ok=True)
            r = run_child(url, server.url, {
                "config_id": config_id, "stations": [STATION], "data_type": "realtime_15min",
                "pull_start_date": start.isoformat(), "now": NOW.isoformat(), "airflow_home": str(home),
                "max_chunk_days": chunk_days,
            })
        log.info("%d years (chunk %s days): %s", years, chunk_days, r)
        label = f"{years} year{'s' if years > 1 else ''}"
        if chunk_days:
            previous = r
            label = f"*{label}, previous MAX_CHUNK of {chunk_days} days*"
        else:
            peaks[years] = r["peak_rss_mb"]
        table.add(label, f"{r['rows']:,}", r["chunks"], f"{r['wall_s']:.1f}",
                  f"{r['rss_ready_mb']:.0f}", ", ".join(f"{v:.0f}" for v in r["chunk_rss_mb"]),
                  f"**{r['peak_rss_mb']:.0f}**", f"{r['peak_rss_mb'] - r['rss_ready_mb']:.0f}")
    section.tables.append(table)
    longest, shortest = max(peaks), min(peaks)
    section.verdicts.append(
        f"{longest}-year pull stays under {LIMIT_MB} MB RSS: **{peaks[longest]:.0f} MB** — "
        f"{'met' if peaks[longest] < LIMIT_MB else 'MISSED'}"
    )
    growth = ", ".join(f"{peaks[y]:.0f} MB at {y} year{'s' if y > 1 else ''}" for y in sorted(peaks))
    section.verdicts.append(
        f"bounded by chunking, not history: {growth} — {longest / shortest:.0f}× the history, "
        f"{peaks[longest] / peaks[shortest]:.2f}× the peak"
    )
    section.verdicts.append(
        f"before commit 60f6275 (`MAX_CHUNK['realtime_15min']` = {PREVIOUS_CHUNK_DAYS} days, ≈ "
        f"{PREVIOUS_CHUNK_DAYS * 288:,} rows per chunk at 5 minutes) the {longest}-year pull peaked at "
        f"**{previous['peak_rss_mb']:.0f} MB** (wall {previous['wall_s']:.1f} s, {previous['http_requests']} requests)"
    )
    section.notes.append(f"Database: {kind}.")
    return section
