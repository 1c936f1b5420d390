"""Verify the forecast runs whose horizons newly landed observations touch (ADR 0013)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.sdk import BaseOperator

from streamflow.hooks.streamflow_db import StreamflowDbHook
from streamflow.verification.events import scopes_from_events
from streamflow.verification.pairing import VerificationError

# A manual run without a start date verifies the runs touching the last week of observations.
DEFAULT_LOOKBACK = timedelta(days=7)


def _param_time(params: dict[str, Any], name: str) -> datetime | None:
    value = params.get(name)
    if value in (None, ""):
        return None
    try:
        when = datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise VerificationError(f"verification: param {name}={value!r} is not an RFC 3339 date-time") from exc
    if when.tzinfo is None:
        raise VerificationError(f"verification: param {name}={value!r} has no time zone (use …Z)")
    return when.astimezone(timezone.utc)


class VerifyForecastsOperator(BaseOperator):
    """Pair and score the forecast runs touched by the observations that triggered this run.

    Scopes come from the triggering asset events' extras (stations + time range, see
    ``streamflow.verification.events``); a manual run uses the ``stations``/``start_date``/
    ``end_date`` params instead (defaults: every station, the last 7 days). Each station is
    verified in its own transaction; a run that cannot be verified (e.g. an unknown unit) is
    reported and fails the task after every other run is written.
    """

    ui_color = "#d9f2e6"

    def execute(self, context) -> dict[str, Any]:
        from streamflow.db.engine import session_scope
        from streamflow.db.verification import VerificationResult, verify_range

        scopes = self._scopes(context)
        engine = StreamflowDbHook().get_engine()
        total = VerificationResult()
        for (start, end), stations in scopes.items():
            with session_scope(engine) as session:
                result = verify_range(session, stations, start, end)
            total.add(result)
            self.log.info(
                "verification: %s, observations %s → %s: %d run(s) touched, %d rewritten (%d complete, %d partial), "
                "%d pair(s), %d dropped",
                "all stations" if stations is None else f"{len(stations)} station(s) ({', '.join(stations[:10])})",
                start.isoformat(), end.isoformat(), result.runs_considered, result.runs_changed, result.complete,
                result.partial, result.pairs, result.pairs_dropped,
            )
        if not scopes:
            self.log.info("verification: the triggering events wrote no rows: nothing to verify")
        if total.failed:
            raise VerificationError(
                f"verification: {len(total.failed)} run(s) could not be verified: " + "; ".join(total.failed[:20])
            )
        return total.to_dict()

    def _scopes(self, context) -> dict[tuple[datetime, datetime], list[str] | None]:
        """(start, end) → stations (None: every station), from the events or the params."""
        events = [e for group in (context.get("triggering_asset_events") or {}).values() for e in group]
        if events:
            by_range: dict[tuple[datetime, datetime], list[str] | None] = defaultdict(list)
            for station, window in sorted(scopes_from_events(events).items()):
                by_range[window].append(station)
            return dict(by_range)
        params = context.get("params") or {}
        end = _param_time(params, "end_date") or datetime.now(timezone.utc)
        start = _param_time(params, "start_date") or end - DEFAULT_LOOKBACK
        if start > end:
            raise VerificationError(f"verification: start_date {start.isoformat()} is after end_date {end.isoformat()}")
        stations = list(params.get("stations") or []) or None
        return {(start, end): stations}
