"""Station search over ``master_stations``: one set of filters for the CLI, the pages and the API.

Filters (every one optional, all must match): ``state`` exact state/province code in any case
(``va``); ``huc`` a prefix of the HUC code (``02`` = region 02); ``text`` a case-insensitive
substring of the name or the number; ``agency`` ``USGS`` or ``EC`` in any case; ``bbox``
``(min_lon, min_lat, max_lon, max_lat)`` in degrees, edges included. Results are ordered by
station number, so ``offset``/``limit`` pages are stable.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from streamflow.db.models import MasterStation
from streamflow.errors import ConfigurationError


@dataclass(frozen=True)
class StationFilters:
    state: str | None = None
    huc: str | None = None
    text: str | None = None
    agency: str | None = None
    bbox: tuple[float, float, float, float] | None = None

    def apply(self, query: Select) -> Select:
        if self.state and self.state.strip():
            query = query.where(func.upper(MasterStation.state_code) == self.state.strip().upper())
        if self.huc and self.huc.strip():
            query = query.where(MasterStation.huc_code.startswith(self.huc.strip(), autoescape=True))
        if self.text and self.text.strip():
            needle = self.text.strip().lower()
            query = query.where(
                or_(
                    func.lower(MasterStation.station_name).contains(needle, autoescape=True),
                    func.lower(MasterStation.station_number).contains(needle, autoescape=True),
                )
            )
        if self.agency and self.agency.strip():
            query = query.where(func.upper(MasterStation.agency) == self.agency.strip().upper())
        if self.bbox is not None:
            min_lon, min_lat, max_lon, max_lat = self.bbox
            if min_lon > max_lon or min_lat > max_lat:
                raise ConfigurationError(f"bbox {self.bbox}: minimum above maximum (min_lon,min_lat,max_lon,max_lat)")
            query = query.where(
                MasterStation.longitude.between(min_lon, max_lon), MasterStation.latitude.between(min_lat, max_lat)
            )
        return query


def search_master_stations(
    session: Session,
    *,
    state: str | None = None,
    huc: str | None = None,
    text: str | None = None,
    agency: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[MasterStation]:
    """Master stations matching every given filter, ordered by station number (see the module doc)."""
    if limit < 1:
        raise ConfigurationError(f"limit must be at least 1, got {limit}")
    if offset < 0:
        raise ConfigurationError(f"offset must not be negative, got {offset}")
    query = StationFilters(state, huc, text, agency, bbox).apply(select(MasterStation))
    return list(session.scalars(query.order_by(MasterStation.station_number).offset(offset).limit(limit)))


def count_master_stations(
    session: Session,
    *,
    state: str | None = None,
    huc: str | None = None,
    text: str | None = None,
    agency: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
) -> int:
    """How many master stations match (to say when a page of results is not all of them)."""
    query = StationFilters(state, huc, text, agency, bbox).apply(select(func.count()).select_from(MasterStation))
    return int(session.scalar(query) or 0)
