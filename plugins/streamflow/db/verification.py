"""Repository functions of forecast verification (ADR 0013): take a session, never commit.

``verify_range`` is the entry point: the forecast runs of some stations whose horizons a time
range of observations touches are paired with those observations (``streamflow.verification``),
scored per lead-time bin and written to ``forecast_verifications`` together with
``forecast_runs.rmse``. A run whose scores come out exactly as stored is not rewritten (its
``verified_at`` stays): verifying again gives the same rows. ``verification_summary`` pools a
station's scores by lead time over a period (for the read API and the pages).
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
from sqlalchemy import Integer, bindparam, case, cast, delete, func, insert, select, update
from sqlalchemy.orm import Session

from streamflow.db.models import DischargeObservation, ForecastRun, ForecastVerification, Station
from streamflow.verification.metrics import ALL, BinScores, verify_pairs
from streamflow.verification.pairing import (
    PARTIAL,
    PERSISTENCE_LOOKBACK,
    ForecastSeries,
    ObservationSeries,
    VerificationError,
    convert,
    from_epoch,
    pair_run,
)
from streamflow.vocabulary import Unit

log = logging.getLogger(__name__)

# The longest horizon of any forecast we store (NWM long range: 30 days), plus slack: a run issued
# longer than this before a range cannot reach into it.
MAX_HORIZON = timedelta(days=35)
_BATCH = 500  # ids per IN (...) list

_SCORE_COLUMNS = ("n_pairs", "rmse", "mean_error", "mae", "nse", "kge", "persistence_rmse", "skill")


@dataclass
class VerificationResult:
    """What one verification pass did."""

    runs_considered: int = 0  # runs whose horizons the range touches
    runs_changed: int = 0  # runs whose rows were (re)written
    rows_written: int = 0
    pairs: int = 0
    pairs_dropped: int = 0
    complete: int = 0
    partial: int = 0
    failed: list[str] = field(default_factory=list)  # "run 12 (station …, source …): message"

    def add(self, other: VerificationResult) -> None:
        for name in ("runs_considered", "runs_changed", "rows_written", "pairs", "pairs_dropped", "complete", "partial"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.failed.extend(other.failed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "runs_considered": self.runs_considered, "runs_changed": self.runs_changed,
            "rows_written": self.rows_written, "pairs": self.pairs, "pairs_dropped": self.pairs_dropped,
            "complete": self.complete, "partial": self.partial, "failed": list(self.failed),
        }


def _utc(value: datetime, what: str) -> datetime:
    if value.tzinfo is None:
        raise VerificationError(f"{what} {value.isoformat()} is naive; timestamps must be timezone-aware UTC")
    return value.astimezone(timezone.utc)


def _chunks(items: Sequence, size: int = _BATCH) -> Iterable[Sequence]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _epoch_column(session: Session, column):
    """``column`` (a UtcDateTime) as integer seconds since the epoch, computed by the database."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.extract("epoch", column), Integer)
    return cast(func.strftime("%s", column), Integer)


def _series(run) -> ForecastSeries:
    """A forecast run (anything with ``id``, ``run_date``, ``data``, ``unit``) as arrays."""
    data = run.data or []
    times = np.fromiter(
        (datetime.fromisoformat(item["valid_time"]).timestamp() for item in data), dtype=np.float64, count=len(data)
    ).astype(np.int64)
    values = np.fromiter(
        (np.nan if item.get("value") is None else float(item["value"]) for item in data), dtype=np.float64,
        count=len(data),
    )
    order = np.argsort(times, kind="stable")
    return ForecastSeries(run.id, int(run.run_date.timestamp()), times[order], values[order], run.unit)


# --------------------------------------------------------------------------- selecting runs


_RUN_COLUMNS = (ForecastRun.id, ForecastRun.source, ForecastRun.run_date, ForecastRun.data, ForecastRun.unit)


def _station_ids(session: Session, station_numbers: Iterable[str] | None) -> dict[int, str]:
    stmt = select(Station.id, Station.station_number).order_by(Station.id)
    if station_numbers is not None:
        stmt = stmt.where(Station.station_number.in_(sorted(set(station_numbers))))
    return dict(session.execute(stmt).all())


def _touching(session: Session, station_id: int, start: datetime, end: datetime) -> list[tuple[Any, ForecastSeries]]:
    """One station's runs whose footprint overlaps [start, end], with their parsed series; and
    its runs stored as ``partial`` whose footprint ends before ``start``.

    A run is complete once the station's latest observation reaches its last valid time, so new
    observations from ``start`` on complete such a run even when its last values fell in a gap
    the observations never filled (only runs issued within ``MAX_HORIZON`` before ``start``).
    """
    rows = session.execute(
        select(*_RUN_COLUMNS, ForecastVerification.status)
        .outerjoin(
            ForecastVerification,
            (ForecastVerification.forecast_run_id == ForecastRun.id) & (ForecastVerification.lead_bin == ALL),
        )
        .where(
            ForecastRun.station_id == station_id,
            ForecastRun.run_date <= end + PERSISTENCE_LOOKBACK,
            ForecastRun.run_date >= start - MAX_HORIZON,
        )
        .order_by(ForecastRun.id)
    )
    lo, hi = int(start.timestamp()), int(end.timestamp())
    found = []
    for row in rows:
        series = _series(row)
        first, last = series.footprint
        if (first <= hi and last >= lo) or (row.status == PARTIAL and last < lo):
            found.append((row, series))
    return found


def runs_touching(
    session: Session, station_numbers: Iterable[str] | None, start: datetime, end: datetime
) -> list[int]:
    """Ids of the forecast runs whose footprint — persistence look-back before the issue time to
    the last valid time (``ForecastSeries.footprint``) — overlaps [start, end], and of the runs
    stored as partial that end before it (``station_numbers=None``: every station)."""
    start, end = _utc(start, "start"), _utc(end, "end")
    return sorted(
        row.id for station_id in _station_ids(session, station_numbers) for row, _s in _touching(session, station_id, start, end)
    )


# --------------------------------------------------------------------------- observations


def _observations(session: Session, station_id: int, data_type: str, first: int, last: int) -> ObservationSeries:
    epoch = _epoch_column(session, DischargeObservation.observed_at)
    rows = session.execute(
        select(epoch, DischargeObservation.discharge, DischargeObservation.unit)
        .where(
            DischargeObservation.station_id == station_id,
            DischargeObservation.type == data_type,
            DischargeObservation.observed_at >= from_epoch(first),
            DischargeObservation.observed_at <= from_epoch(last),
        )
        .order_by(DischargeObservation.observed_at)
    ).all()
    through = session.execute(
        select(func.max(DischargeObservation.observed_at)).where(
            DischargeObservation.station_id == station_id, DischargeObservation.type == data_type
        )
    ).scalar()
    through_s = int(through.timestamp()) if through is not None else None
    if not rows:
        return ObservationSeries(data_type, np.empty(0, np.int64), np.empty(0), Unit.CFS.value, through_s)
    times = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    values = np.fromiter((np.nan if r[1] is None else r[1] for r in rows), dtype=np.float64, count=len(rows))
    units = [r[2] for r in rows]
    unit = units[0]
    if any(u != unit for u in units):  # mixed units in one series: bring all to cfs
        for other in set(units):
            mask = np.array([u == other for u in units])
            values[mask] = convert(values[mask], other, Unit.CFS.value, what=f"station id {station_id} {data_type}")
        unit = Unit.CFS.value
    return ObservationSeries(data_type, times, values, unit, through_s)


# --------------------------------------------------------------------------- verifying


def _row_values(result: BinScores, pairs_status: str, observation_type: str, unit: str | None) -> tuple:
    s = result.scores
    return (
        result.lead_start_hours, result.lead_end_hours, observation_type, unit, pairs_status,
        result.pairs_dropped, *(getattr(s, c) for c in _SCORE_COLUMNS),
    )


_ROW_KEYS = ("lead_start_hours", "lead_end_hours", "observation_type", "unit", "status", "pairs_dropped", *_SCORE_COLUMNS)


def _stored(session: Session, run_ids: Sequence[int]) -> dict[int, dict[str, tuple]]:
    stored: dict[int, dict[str, tuple]] = defaultdict(dict)
    columns = [getattr(ForecastVerification, k) for k in _ROW_KEYS]
    for chunk in _chunks(run_ids):
        for row in session.execute(
            select(ForecastVerification.forecast_run_id, ForecastVerification.lead_bin, *columns).where(
                ForecastVerification.forecast_run_id.in_(chunk)
            )
        ):
            stored[row[0]][row[1]] = tuple(row[2:])
    return stored


def verify_runs(session: Session, run_ids: Iterable[int], *, now: datetime | None = None) -> VerificationResult:
    """Verify the given runs, station by station; rewrite the rows (and ``forecast_runs.rmse``) of
    the runs whose scores changed."""
    now = _utc(now or datetime.now(timezone.utc), "now")
    result = VerificationResult()
    ids = sorted(set(run_ids))
    by_station: dict[int, list[int]] = defaultdict(list)
    for chunk in _chunks(ids):
        for run_id, station_id in session.execute(
            select(ForecastRun.id, ForecastRun.station_id).where(ForecastRun.id.in_(chunk))
        ):
            by_station[station_id].append(run_id)
    for station_id, station_runs in sorted(by_station.items()):
        number = session.execute(select(Station.station_number).where(Station.id == station_id)).scalar_one()
        runs = [row for chunk in _chunks(station_runs) for row in session.execute(select(*_RUN_COLUMNS).where(ForecastRun.id.in_(chunk)))]
        result.add(_verify_station(session, station_id, number, [(run, _series(run)) for run in runs], now))
    return result


def _verify_station(
    session: Session, station_id: int, station_number: str, series: list[tuple[Any, ForecastSeries]], now: datetime
) -> VerificationResult:
    """``series``: (row of id, source, run_date, data, unit; its parsed series) of one station's runs."""
    result = VerificationResult()
    by_type: dict[str, list[tuple[Any, ForecastSeries]]] = defaultdict(list)
    for run, s in series:
        by_type[s.observation_type].append((run, s))
    computed: dict[int, tuple[list[BinScores], str, str, str | None]] = {}
    for data_type, members in by_type.items():
        first = min(s.footprint[0] for _run, s in members)
        last = max(s.footprint[1] for _run, s in members)
        observations = _observations(session, station_id, data_type, first, last)
        for run, s in members:
            try:
                pairs = pair_run(s, observations)
            except VerificationError as exc:
                message = f"run {run.id} (station {station_number}, source {run.source}, issued {run.run_date.isoformat()}): {exc}"
                log.warning("verification: %s", message)
                result.failed.append(message)
                continue
            computed[run.id] = (verify_pairs(pairs), pairs.status, pairs.observation_type, pairs.unit)
            result.pairs += pairs.n_pairs
            result.pairs_dropped += pairs.dropped
            if pairs.status == "complete":
                result.complete += 1
            else:
                result.partial += 1
    stored = _stored(session, list(computed))
    changed: list[int] = []
    new_rows: list[dict[str, Any]] = []
    rmse_updates: list[dict[str, Any]] = []
    for run_id, (bins, status, observation_type, unit) in computed.items():
        rows = {b.lead_bin: _row_values(b, status, observation_type, unit) for b in bins}
        if stored.get(run_id) == rows:
            continue
        changed.append(run_id)
        for lead_bin, values in rows.items():
            new_rows.append({"forecast_run_id": run_id, "lead_bin": lead_bin, "verified_at": now, **dict(zip(_ROW_KEYS, values, strict=True))})
        whole = next(b for b in bins if b.lead_bin == ALL)
        rmse_updates.append({"run_id": run_id, "rmse": whole.scores.rmse})
    for chunk in _chunks(changed):
        session.execute(delete(ForecastVerification).where(ForecastVerification.forecast_run_id.in_(chunk)))
    if new_rows:
        session.execute(insert(ForecastVerification), new_rows)
        session.execute(
            update(ForecastRun.__table__).where(ForecastRun.__table__.c.id == bindparam("run_id")).values(rmse=bindparam("rmse")),
            rmse_updates,
        )
    result.runs_considered = len(series)
    result.runs_changed = len(changed)
    result.rows_written = len(new_rows)
    return result


def verify_range(
    session: Session,
    station_numbers: Iterable[str] | None,
    start: datetime,
    end: datetime,
    *,
    now: datetime | None = None,
) -> VerificationResult:
    """Verify the runs whose horizons observations in [start, end] of these stations touch, and
    their runs still partial before it (``station_numbers=None``: every station), one station at
    a time."""
    start, end = _utc(start, "start"), _utc(end, "end")
    now = _utc(now or datetime.now(timezone.utc), "now")
    result = VerificationResult()
    for station_id, number in _station_ids(session, station_numbers).items():
        touching = _touching(session, station_id, start, end)
        if touching:
            result.add(_verify_station(session, station_id, number, touching, now))
    return result


# --------------------------------------------------------------------------- reading


def verification_rows(session: Session, forecast_run_id: int) -> list[ForecastVerification]:
    return list(
        session.scalars(
            select(ForecastVerification)
            .where(ForecastVerification.forecast_run_id == forecast_run_id)
            .order_by(ForecastVerification.lead_bin == ALL, ForecastVerification.lead_start_hours)
        )
    )


def _factor(stored: str | None, wanted: str) -> float | None:
    """What a value in ``stored`` units is multiplied by to be in ``wanted`` units (None: unknown unit)."""
    try:
        return float(convert(np.float64(1.0), stored, wanted))
    except VerificationError:
        return None


def verification_summary(
    session: Session,
    station_number: str,
    source: str,
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    include_partial: bool = True,
    unit: str | None = None,
) -> list[dict[str, Any]]:
    """Skill by lead-time bin of one station and source over runs issued in [start, end] (None: open).

    Scores are pooled over the runs exactly where they can be: RMSE, mean error and MAE weighted by
    each run's pairs; the persistence RMSE over the runs that have one, and the skill score from
    the pooled RMSE and pooled persistence RMSE of those runs; NSE and KGE are averaged over runs
    (``nse_mean``, ``kge_mean``). Values are in ``unit`` (``cfs``/``cms``, converted exactly);
    ``unit=None`` keeps the unit the rows are stored in when they share one, else ``cfs``.
    One dict per bin, in lead order, the whole-run bin ``all`` last; empty when nothing is verified.
    """
    v, r = ForecastVerification, ForecastRun
    n = v.n_pairs
    has_ref = v.persistence_rmse.isnot(None)
    conditions = [Station.station_number == station_number, r.source == source, v.n_pairs > 0]
    if start is not None:
        conditions.append(r.run_date >= _utc(start, "start"))
    if end is not None:
        conditions.append(r.run_date <= _utc(end, "end"))
    if not include_partial:
        conditions.append(v.status == "complete")
    stmt = (
        select(
            v.lead_bin,
            v.lead_start_hours,
            v.unit,
            func.max(v.lead_end_hours),
            func.count(v.id),
            func.sum(n),
            func.sum(n * v.rmse * v.rmse),
            func.sum(n * v.mean_error),
            func.sum(n * v.mae),
            func.sum(case((has_ref, n), else_=0)),
            func.sum(case((has_ref, n * v.rmse * v.rmse), else_=0.0)),
            func.sum(case((has_ref, n * v.persistence_rmse * v.persistence_rmse), else_=0.0)),
            func.sum(v.nse),
            func.count(v.nse),
            func.sum(v.kge),
            func.count(v.kge),
            func.sum(case((v.status == "complete", 1), else_=0)),
        )
        .join(r, r.id == v.forecast_run_id)
        .join(Station, Station.id == r.station_id)
        .where(*conditions)
        .group_by(v.lead_bin, v.lead_start_hours, v.unit)
    )
    groups = session.execute(stmt).all()
    units = {g[2] for g in groups}
    wanted = unit or (next(iter(units)) if len(units) == 1 and None not in units else Unit.CFS.value)
    pooled: dict[tuple[str, int], dict[str, Any]] = {}
    for (lead_bin, first, stored_unit, last, runs, pairs, sse, se, sae, ref_n, ref_sse, ref_psse,
         nse_sum, nse_n, kge_sum, kge_n, complete) in groups:
        f = _factor(stored_unit, wanted)
        if f is None:  # verification never stores another unit; skip rather than mix
            log.warning("verification summary: station %s, source %s: rows in unit %r skipped",
                        station_number, source, stored_unit)
            continue
        acc = pooled.setdefault((lead_bin, first), dict.fromkeys(
            ("last", "runs", "pairs", "sse", "se", "sae", "ref_n", "ref_sse", "ref_psse", "nse_sum", "nse_n",
             "kge_sum", "kge_n", "complete"), 0))
        acc["last"] = max(acc["last"], last)
        for key, value, scale in (("runs", runs, 1), ("pairs", pairs, 1), ("sse", sse, f * f), ("se", se, f),
                                  ("sae", sae, f), ("ref_n", ref_n, 1), ("ref_sse", ref_sse, f * f),
                                  ("ref_psse", ref_psse, f * f), ("nse_sum", nse_sum, 1), ("nse_n", nse_n, 1),
                                  ("kge_sum", kge_sum, 1), ("kge_n", kge_n, 1), ("complete", complete, 1)):
            acc[key] += (value or 0) * scale
    out = []
    for (lead_bin, first), a in sorted(pooled.items(), key=lambda item: (item[0][0] == ALL, item[0][1])):
        pairs, ref_n = int(a["pairs"]), int(a["ref_n"])
        persistence = math.sqrt(a["ref_psse"] / ref_n) if ref_n else None
        skill = None
        if ref_n and a["ref_psse"] > 0:
            skill = 1.0 - math.sqrt(a["ref_sse"] / ref_n) / persistence
        out.append({
            "lead_bin": lead_bin, "lead_start_hours": int(first), "lead_end_hours": int(a["last"]),
            "runs": int(a["runs"]), "runs_complete": int(a["complete"]), "n_pairs": pairs, "unit": wanted,
            "rmse": math.sqrt(a["sse"] / pairs) if pairs else None,
            "mean_error": a["se"] / pairs if pairs else None, "mae": a["sae"] / pairs if pairs else None,
            "persistence_rmse": persistence, "skill": skill,
            "nse_mean": a["nse_sum"] / a["nse_n"] if a["nse_n"] else None,
            "kge_mean": a["kge_sum"] / a["kge_n"] if a["kge_n"] else None,
        })
    return out


def verified_run_counts(session: Session, station_numbers: Iterable[str], source: str) -> dict[str, int]:
    """How many forecast runs of ``source`` each of these stations has with verified pairs (the
    runs ``verification_summary`` pools); stations without any are left out."""
    v, r = ForecastVerification, ForecastRun
    counts: dict[str, int] = {}
    for chunk in _chunks(sorted(set(station_numbers))):
        rows = session.execute(
            select(Station.station_number, func.count(v.id))
            .join(r, r.station_id == Station.id)
            .join(v, v.forecast_run_id == r.id)
            .where(Station.station_number.in_(chunk), r.source == source, v.lead_bin == ALL, v.n_pairs > 0)
            .group_by(Station.station_number)
        )
        counts.update({number: int(count) for number, count in rows})
    return counts
