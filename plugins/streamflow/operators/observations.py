"""Observation pulls: one operator for every observation source, parameterised by its hook.

:data:`OBSERVATION_HOOKS` maps a source key to its :class:`~streamflow.hooks.base.ObservationHook`
class (imported in the worker, never at DAG parse time); :func:`pull_observations` is one
station's pull, start to finish: plan the window, chunk it once, fetch chunk by chunk, persist
each chunk in one transaction together with its progress (docs/adr/0001-smart-append.md).

A failure leaves progress at the last committed chunk, so the retry or the next run resumes there:
nothing is skipped, and the upsert makes the re-read overlap harmless.
"""

from __future__ import annotations

import importlib
import logging
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from streamflow.canonical import values_dropped
from streamflow.configurations import StationSpec
from streamflow.db import repository as repo
from streamflow.db.engine import session_scope
from streamflow.errors import ConfigurationError, StreamflowError
from streamflow.operators.base import PullTarget, StationPullOperator, ensure_station_id
from streamflow.outcomes import StationOutcome
from streamflow.timeutil import iso_z
from streamflow.trigger_params import RunParams
from streamflow.vocabulary import DataStrategy, Source
from streamflow.windows import chunk_window, plan_window

if TYPE_CHECKING:
    from streamflow.hooks.base import ObservationHook, PullStation

log = logging.getLogger(__name__)

#: Source key → the observation hook class that serves it (module path, class name).
OBSERVATION_HOOKS: dict[str, tuple[str, str]] = {
    Source.USGS.value: ("streamflow.hooks.usgs", "UsgsWaterDataHook"),
    Source.ECCC.value: ("streamflow.hooks.eccc", "EcccHook"),
}


def observation_hook(source: str) -> ObservationHook:
    """A new hook for ``source`` (``usgs``, ``eccc``) with its default connections."""
    try:
        module, name = OBSERVATION_HOOKS[source]
    except KeyError:
        raise ConfigurationError(
            f"no observation hook for source {source!r} (known: {', '.join(OBSERVATION_HOOKS)})"
        ) from None
    return getattr(importlib.import_module(module), name)()


class ObservationPullOperator(StationPullOperator):
    """Pull one station's observations (``daily_mean`` or ``realtime_15min``) with smart append."""

    ui_color = "#cfe8ff"

    def __init__(self, *, source: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source = source

    def pull(self, engine: Engine, station: PullStation, params: RunParams) -> StationOutcome:
        return pull_observations(
            engine=engine, hook=observation_hook(self.source), target=self.target, station=station, params=params,
            logger=self.log,
        )


def pull_observations(
    *,
    engine: Engine,
    hook: ObservationHook,
    target: PullTarget,
    station: StationSpec,
    params: RunParams,
    now: datetime | None = None,
    logger: logging.Logger | None = None,
) -> StationOutcome:
    """Pull one station's observations for one run. Raises the hook's error after logging it.

    The window is planned (:func:`~streamflow.windows.plan_window`) and chunked once
    (:func:`~streamflow.windows.chunk_window`); the hook fetches each chunk as given.
    """
    logger = logger or log
    now = now or datetime.now(timezone.utc)
    name = f"{hook.source}: station {station.station_number}"
    outcome = StationOutcome(station.station_number, hook.source)
    strategy = params.data_strategy or target.strategy
    overwrite = strategy == DataStrategy.OVERWRITE

    with session_scope(engine) as session:
        progress = repo.get_progress(session, target.config_id, station.station_number)
    window = plan_window(
        data_type=target.data_type,
        strategy=strategy,
        pull_start_date=target.pull_start_date,
        progress=progress,
        params=params,
        now=now,
        earliest=hook.earliest(target.data_type, now),
    )
    outcome.progress = iso_z(progress)
    if window is None:
        outcome.status = "nothing"
        outcome.message = "window is empty: nothing to pull"
        logger.info("%s: nothing to pull (progress %s)", name, outcome.progress)
        return outcome
    chunks = chunk_window(
        window, source=hook.source, data_type=target.data_type, max_chunk=hook.max_chunk(target.data_type), now=now
    )
    outcome.window = str(window)
    outcome.chunks_total = len(chunks)
    logger.info("%s: %s window %s (%s), %d chunk(s)", name, strategy.value, window, window.reason, len(chunks))

    station_id = ensure_station_id(engine, station, lambda: hook.station_metadata(station))
    ids = {station.station_number: station_id}
    for index, chunk in enumerate(chunks, start=1):
        try:
            frame = hook.fetch_observations(station, target.data_type, chunk.start, chunk.end)
        except StreamflowError as exc:
            outcome.status, outcome.message, outcome.retryable = "failed", str(exc), exc.retryable
            exc.window = f"chunk {index}/{len(chunks)} {chunk}"
            logger.error(
                "%s: chunk %d/%d %s failed: %s (progress stays %s)", name, index, len(chunks), chunk, exc,
                outcome.progress,
            )
            raise
        with session_scope(engine) as session:
            if overwrite:
                result = repo.replace_observations(
                    session, frame, ids, station_number=station.station_number,
                    data_type=target.data_type.value, start=chunk.start, end=chunk.end,
                )
            else:
                result = repo.upsert_observations(session, frame, ids)
            if result.latest is not None:
                # Overwrite re-reads from pull_start_date: its first chunk may set progress back.
                reached = repo.advance_progress(
                    session, target.config_id, station.station_number, result.latest,
                    allow_backwards=overwrite and outcome.chunks_done == 0,
                )
                outcome.progress = iso_z(reached)
        outcome.chunks_done = index
        outcome.values_dropped += values_dropped(frame)  # NaN/±inf the service sent: never stored
        outcome.rows_fetched += result.rows_in
        outcome.rows_written += result.rows_written
        outcome.add_written(result.first_written, result.last_written)
        logger.info(
            "%s: chunk %d/%d %s: fetched %d row(s), wrote %d, progress %s",
            name, index, len(chunks), chunk, result.rows_in, result.rows_written, outcome.progress,
        )
    if outcome.rows_fetched == 0:
        outcome.status = "nothing"
        outcome.message = "the service returned no data for the window"
    changed = (
        f"{iso_z(outcome.written_start)} → {iso_z(outcome.written_end)}" if outcome.written_start else "nothing"
    )
    logger.info(
        "%s: done: %d row(s) fetched, %d written in %d chunk(s), %d non-finite value(s) dropped; changed %s; "
        "progress %s",
        name, outcome.rows_fetched, outcome.rows_written, len(chunks), outcome.values_dropped, changed,
        outcome.progress,
    )
    return outcome
