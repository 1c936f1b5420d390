"""A stand-in for the ECCC Datamart and Water Office services for end-to-end tests.

Bodies follow the recorded files in tests/fixtures/eccc/ byte for byte in their format (BOM,
leading-space header, CRLF, duplicated Datamart columns, LST offsets in the Datamart, UTC in the
Water Office); the values are synthetic and deterministic per (station, UTC instant), so a test
can compute what must be stored. Datamart files hold the last 30 days before ``until``;
real_time_data holds ~18 months; HYDAT daily means stop ``hydat_lag`` before ``until``.
Mark: hand-made payloads in the recorded formats.
"""

from __future__ import annotations

import zlib
from datetime import date, datetime, timedelta, timezone

from streamflow.testing.replay import FIXTURES, ReplayServer, Request, Response

UTC = timezone.utc
STEP = timedelta(minutes=5)
DATAMART_HEADER = (
    " ID,Date,Water Level / Niveau d'eau (m),Grade,Symbol / Symbole,QA/QC,"
    "Discharge / Débit (cms),Grade,Symbol / Symbole,QA/QC"
)
REALTIME_HEADER = (
    "\ufeff ID,Date,Parameter/Paramètre,Value/Valeur,Qualifier/Qualificatif,Symbol/Symbole,"
    "Approval/Approbation,Grade/Classification,Qualifiers/Qualificatifs"
)
DAILY_HEADER = "\ufeff ID,Date,Parameter/Paramètre,Value/Valeur,Symbol/Symbole"
CSV = {"Content-Type": "text/csv; charset=utf-8"}


def _floor(t: datetime, step: timedelta) -> datetime:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return t - ((t - epoch) % step)


class FakeEccc:
    def __init__(
        self,
        server: ReplayServer,
        *,
        until: datetime,
        offsets: dict[str, tuple[str, int]] | None = None,
        hydat_lag: timedelta = timedelta(days=300),
    ) -> None:
        self.server = server
        self.until = until
        self.offsets = offsets or {"08MF005": ("BC", -8), "10AB001": ("YT", -8)}
        self.hydat_lag = hydat_lag
        for station, (province, _offset) in self.offsets.items():
            for frequency in ("hourly", "daily"):
                server.add(
                    f"/today/hydrometric/csv/{province}/{frequency}/{province}_{station}_{frequency}_hydrometric.csv",
                    lambda request, s=station, f=frequency: self._datamart(s, f),
                )
        server.add("/services/real_time_data/csv/inline", self._realtime)
        server.add("/services/daily_data/csv/inline", self._daily)
        server.add(
            "/today/hydrometric/doc/hydrometric_StationList.csv",
            (FIXTURES / "eccc/datamart/snowsky_hydrometric_StationList_2015.csv").read_bytes(),
            headers=CSV,
        )

    @staticmethod
    def value(station: str, instant: datetime) -> float:
        key = instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")
        return round((zlib.crc32(f"{station}|{key}".encode()) % 900_000) / 1000 + 1, 3)

    def datamart_instants(self) -> list[datetime]:
        end = _floor(self.until, STEP)
        start = _floor(self.until, timedelta(days=1)) - timedelta(days=30)
        return [start + i * STEP for i in range(int((end - start) / STEP) + 1)]

    def realtime_instants(self, start: datetime, end: datetime) -> list[datetime]:
        first = max(start, _floor(self.until - timedelta(days=570), timedelta(days=1)))
        first = first + (-(first - datetime(1970, 1, 1, tzinfo=UTC)) % STEP)
        last = min(end, self.until)
        out, t = [], first
        while t <= last:
            out.append(t)
            t += STEP
        return out

    def daily_days(self, first: date, last: date) -> list[date]:
        last = min(last, (self.until - self.hydat_lag).date())
        return [first + timedelta(days=i) for i in range((last - first).days + 1)] if first <= last else []

    @staticmethod
    def daily_value(station: str, day: date) -> float:
        return float(zlib.crc32(f"{station}|{day.isoformat()}".encode()) % 2_000 + 10)

    def _datamart(self, station: str, frequency: str) -> Response:
        _province, hours = self.offsets[station]
        lst = timezone(timedelta(hours=hours))
        lines = [DATAMART_HEADER]
        for instant in self.datamart_instants():
            local = instant.astimezone(lst).isoformat()
            lines.append(f"{station},{local},1.548,,,1,{self.value(station, instant):g},,,1")
        return Response(200, "\r\n".join(lines) + "\r\n", headers=CSV)

    def _realtime(self, request: Request) -> Response:
        station = request.arg("stations[]")
        if request.arg("parameters[]") != "47":
            return Response(400, "parameter must be 47 in this stand-in")
        start = datetime.strptime(request.arg("start_date"), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        end = datetime.strptime(request.arg("end_date"), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        lines = [REALTIME_HEADER]
        for instant in self.realtime_instants(start, end):
            stamp = instant.strftime("%Y-%m-%dT%H:%M:%SZ")
            lines.append(f"{station},{stamp},47,{self.value(station, instant):g},,,Provisional/Provisoire,,")
        return Response(200, "\r\n".join(lines) + "\r\n", headers=CSV)

    def _daily(self, request: Request) -> Response:
        station = request.arg("stations[]")
        first, last = date.fromisoformat(request.arg("start_date")), date.fromisoformat(request.arg("end_date"))
        lines = [DAILY_HEADER]
        for day in self.daily_days(first, last):
            symbol = "B" if day.month == 1 else ""
            lines.append(f"{station},{day.isoformat()},discharge/débit,{self.daily_value(station, day):g},{symbol}")
        return Response(200, "\r\n".join(lines) + "\r\n", headers=CSV)
