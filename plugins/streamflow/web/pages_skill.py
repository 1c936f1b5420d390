"""The "Forecast skill" card of a forecast configuration's detail page.

A GET form on the detail page itself (``skill_station``, ``skill_from``, ``skill_to``: one of the
configuration's stations and an issue-time period in UTC) chooses what
``streamflow.db.verification.verification_summary`` pools; the card shows the scores by lead time
as a table (values in cfs) and the RMSE by lead time as a chart drawn by ``streamflow.js`` from
data embedded in the page. Bad form values give a message at their field and no scores; nothing
here writes. Scores and the pairing rule: docs/adr/0013-forecast-verification.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from streamflow.db import verification as ver
from streamflow.verification.metrics import ALL
from streamflow.vocabulary import FORECAST_SOURCE, DataType, Unit
from streamflow.web.pages_forms import parse_start

UNIT = Unit.CFS.value
MINUS = "\u2212"
NOT_A_DATE = "is not a date (2024-01-01 or 2024-01-01T06:00Z, UTC)"


@dataclass(frozen=True)
class SkillStation:
    station_number: str
    station_name: str | None
    verified_runs: int  # runs of the configuration's source with verified pairs, any issue time


@dataclass
class SkillCard:
    """What the card shows; ``rows`` empty and no ``errors``: nothing verified for the choice."""

    source: str
    stations: list[SkillStation]
    station: str | None = None  # the station shown (or selected in the form)
    from_text: str = ""  # the form's values as typed
    to_text: str = ""
    period: str = "any issue time"
    errors: dict[str, str] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)
    chart: dict[str, Any] | None = None
    runs: int = 0  # runs pooled (the whole-run row's)
    runs_complete: int = 0

    @property
    def filtered(self) -> bool:
        return bool(self.from_text or self.to_text)

    @property
    def verified_runs(self) -> int:
        """Verified runs of the chosen station at any issue time."""
        return next((s.verified_runs for s in self.stations if s.station_number == self.station), 0)


def forecast_source(data_type: str) -> str | None:
    """The ``forecast_runs.source`` a configuration of ``data_type`` pulls (None: not a forecast)."""
    try:
        return FORECAST_SOURCE.get(DataType(data_type))
    except ValueError:
        return None


def skill_card(
    session: Session, data_type: str, stations: Sequence[tuple[str, str | None]], params: Mapping[str, str]
) -> SkillCard | None:
    """The card of a configuration of ``data_type`` with these (number, name) stations, for the
    query ``params`` of the detail page; None when the configuration is not a forecast one."""
    source = forecast_source(data_type)
    if source is None:
        return None
    counts = ver.verified_run_counts(session, [n for n, _ in stations], source) if stations else {}
    card = SkillCard(source, [SkillStation(n, name, counts.get(n, 0)) for n, name in stations])
    if not stations:
        return card
    numbers = [s.station_number for s in card.stations]
    default = next((s.station_number for s in card.stations if s.verified_runs), numbers[0])
    wanted = params.get("skill_station", "").strip()
    if wanted and wanted not in numbers:
        card.errors["skill_station"] = f"Station: {wanted!r} is not a station of this configuration"
        wanted = ""
    card.station = wanted or default
    card.from_text = params.get("skill_from", "").strip()
    card.to_text = params.get("skill_to", "").strip()
    start = _instant(card, "skill_from", "Issued from", card.from_text)
    end = _instant(card, "skill_to", "Issued to", card.to_text)
    if end is not None and len(card.to_text) == 10:  # a day: up to its end
        end += timedelta(days=1) - timedelta(microseconds=1)
    if start is not None and end is not None and start > end:
        card.errors["skill_from"] = f"Issued from: {card.from_text} is after issued to ({card.to_text})"
    if card.errors:
        return card
    card.period = _period(card.from_text, start, card.to_text, end)
    summary = ver.verification_summary(session, card.station, source, start, end, unit=UNIT)
    if not summary:
        return card
    card.rows = [_row(item) for item in summary]
    whole = next((item for item in summary if item["lead_bin"] == ALL), None)
    if whole is not None:
        card.runs, card.runs_complete = whole["runs"], whole["runs_complete"]
    leads = [item for item in summary if item["lead_bin"] != ALL]
    card.chart = {
        "station": card.station,
        "source": source,
        "unit": UNIT,
        "bins": [item["lead_bin"] for item in leads],
        "labels": [lead_label(item["lead_bin"]) for item in leads],
        "rmse": [item["rmse"] for item in leads],
        "persistence_rmse": [item["persistence_rmse"] for item in leads],
    }
    return card


def _instant(card: SkillCard, key: str, label: str, raw: str) -> datetime | None:
    if not raw:
        return None
    value = parse_start(raw)
    if value is None:
        card.errors[key] = f"{label}: {raw!r} {NOT_A_DATE}"
    return value


def _when(raw: str, value: datetime) -> str:
    return raw if len(raw) == 10 else value.strftime("%Y-%m-%d %H:%M")


def _period(from_text: str, start: datetime | None, to_text: str, end: datetime | None) -> str:
    if start is not None and end is not None:
        return f"issued {_when(from_text, start)} to {_when(to_text, end)} UTC"
    if start is not None:
        return f"issued from {_when(from_text, start)} UTC"
    if end is not None:
        return f"issued up to {_when(to_text, end)} UTC"
    return "any issue time"


# --------------------------------------------------------------------------- formatting


def lead_label(lead_bin: str) -> str:
    """``0-6h`` → ``0–6 h``; the whole-run bin → ``all leads``."""
    if lead_bin == ALL:
        return "all leads"
    return lead_bin.removesuffix("h").replace("-", "–") + " h"


def flow(value: float | None, *, signed: bool = False) -> str:
    """A discharge (or discharge error): about three significant digits, thousands separated."""
    if value is None or not math.isfinite(value):
        return "—"
    size = abs(value)
    digits = 2 if size < 10 else 1 if size < 100 else 0
    return _sign(f"{value:,.{digits}f}", value, signed)


def ratio(value: float | None) -> str:
    """A dimensionless score (skill, NSE, KGE): two decimals, fewer far below 0 (−23.1, −1,594)."""
    if value is None or not math.isfinite(value):
        return "—"
    size = abs(value)
    digits = 2 if size < 10 else 1 if size < 100 else 0
    return _sign(f"{value:,.{digits}f}", value, False)


def _sign(text: str, value: float, signed: bool) -> str:
    if not any(c not in "0.,-" for c in text):  # rounds to zero: no sign
        return text.lstrip("-")
    if signed and value > 0:
        return "+" + text
    return text.replace("-", MINUS)


def _row(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "lead_bin": item["lead_bin"],
        "lead": lead_label(item["lead_bin"]),
        "whole": item["lead_bin"] == ALL,
        "runs": f"{item['runs_complete']} / {item['runs']}",
        "pairs": f"{item['n_pairs']:,}",
        "rmse": flow(item["rmse"]),
        "mean_error": flow(item["mean_error"], signed=True),
        "mae": flow(item["mae"]),
        "persistence_rmse": flow(item["persistence_rmse"]),
        "skill": ratio(item["skill"]),
        "nse": ratio(item["nse_mean"]),
        "kge": ratio(item["kge_mean"]),
    }
