"""Station search over ``master_stations``: one set of filters for the CLI, the pages and the API.

Filters (every one optional, all must match): ``state`` exact state/province code in any case
(``va``); ``huc`` a prefix of the HUC code (``02`` = region 02); ``text`` a case-insensitive
substring of the name or the number; ``agency`` ``USGS`` or ``EC`` in any case; ``bbox``
``(min_lon, min_lat, max_lon, max_lat)`` in degrees, edges included. Results are ordered by
station number, so ``offset``/``limit`` pages are stable.

A filter that cannot match anything by construction is refused with :class:`ConfigurationError`
rather than answered with an empty page: a ``state`` that is not a US state / territory or
Canadian province / territory code, a ``huc`` that is not 2–12 digits of even length. The codes
are a fixed table, not the codes present in the database, so a typo is told apart from a real
state without stations, and the answer does not depend on whether the master list is loaded
(every ``state_code`` in ``data/master_stations.csv`` is in the table; a test checks it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from streamflow.db.models import MasterStation
from streamflow.errors import ConfigurationError


# USPS codes of the states, DC and the territories NWIS lists sites in.
US_STATE_CODES = frozenset(
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY "
    "NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY AS GU MP PR VI".split()
)
CANADIAN_PROVINCE_CODES = frozenset("AB BC MB NB NL NS NT NU ON PE QC SK YT".split())
REGION_CODES = US_STATE_CODES | CANADIAN_PROVINCE_CODES
_HUC = re.compile(r"^(?:[0-9]{2}){1,6}$")  # region (2 digits) down to subwatershed (12)


@dataclass(frozen=True)
class StationFilters:
    state: str | None = None
    huc: str | None = None
    text: str | None = None
    agency: str | None = None
    bbox: tuple[float, float, float, float] | None = None

    def __post_init__(self) -> None:
        if self.state and self.state.strip() and self.state.strip().upper() not in REGION_CODES:
            raise ConfigurationError(
                f"unknown state or province code {self.state.strip()!r}: expected a US state or territory "
                "code (e.g. MD, PR) or a Canadian province or territory code (e.g. BC, YT)"
            )
        if self.huc and self.huc.strip() and not _HUC.match(self.huc.strip()):
            raise ConfigurationError(
                f"malformed HUC {self.huc.strip()!r}: a hydrologic unit code is 2 to 12 digits, an even "
                "number of them (02 = region, 0207 = subregion, 02070008 = cataloging unit)"
            )

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
