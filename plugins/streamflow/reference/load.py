"""Load the reference CSVs into the database: ``station_mappings`` and ``master_stations``.

:func:`load_reference` upserts both files in batches with the dialect's native
``INSERT … ON CONFLICT`` (the caller commits). Bad rows are reported with file name and line
number and skipped; re-running changes nothing.
"""

from __future__ import annotations

import csv
import logging
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from streamflow.db.models import MasterStation, StationMapping
from streamflow.db.repository import insert_for as _insert_for
from streamflow.errors import ReferenceDataError
from streamflow.reference.files import (
    DEFAULT_DATA_DIR,
    MAPPING_COLUMNS,
    MAPPINGS_FILE,
    MASTER_COLUMNS,
    MASTER_FILE,
)
from streamflow.vocabulary import Agency, MappingTarget

log = logging.getLogger(__name__)

LOAD_BATCH_ROWS = 1_000  # rows per executemany call of the upsert


@dataclass(frozen=True)
class BadRow:
    """A CSV row that was not loaded (``column``: 1-based, when one field is at fault and the
    message does not already name it)."""

    file: str
    line: int
    message: str
    column: int | None = None

    def __str__(self) -> str:
        where = f"line {self.line}" if self.column is None else f"line {self.line}, column {self.column}"
        return f"{self.file} {where}: {self.message}"


@dataclass
class TableLoad:
    """Counts for one CSV → table load."""

    file: str
    table: str
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    total_in_table: int = 0

    def summary(self) -> str:
        return (
            f"{self.file} → {self.table}: {self.rows_read} rows read, {self.inserted} inserted, "
            f"{self.updated} updated, {self.unchanged} unchanged, {self.skipped} skipped; "
            f"{self.total_in_table} rows in the table"
        )


@dataclass
class LoadReport:
    """What :func:`load_reference` did; ``bad_rows`` name file and line of every skipped row."""

    mappings: TableLoad
    master_stations: TableLoad
    bad_rows: list[BadRow] = field(default_factory=list)

    @property
    def messages(self) -> list[str]:
        return [str(b) for b in self.bad_rows]

    def summary(self) -> str:
        lines = [self.mappings.summary(), self.master_stations.summary()]
        lines += [f"skipped: {b}" for b in self.bad_rows]
        return "\n".join(lines)


class _Lines:
    """The lines fed to the csv reader, numbered, with the text of the record being read."""

    def __init__(self, handle: Iterator[str]) -> None:
        self._handle = handle
        self.number = 0
        self.record: list[str] = []

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = next(self._handle)
        self.number += 1
        self.record.append(line)
        return line

    def skip_rest_of_record(self) -> None:
        """After csv gave up on a record inside a quoted field, drop the lines up to its end."""
        quoted = "".join(self.record).count('"') % 2 == 1
        while quoted:
            line = next(self._handle, None)
            if line is None:
                return
            self.number += 1
            quoted ^= line.count('"') % 2 == 1


def _oversize_column(record: str, limit: int) -> int | None:
    """1-based column of the first field of a raw CSV record longer than ``limit`` characters."""
    column, length, quoted = 1, 0, False
    for char in record:
        if char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            column, length = column + 1, 0
        else:
            length += 1
            if length > limit:
                return column
    return None


# A byte that is not UTF-8 (read as a lone surrogate, errors="surrogateescape") or a NUL, which
# PostgreSQL text cannot hold.
_UNSTORABLE = re.compile("[\x00\udc80-\udcff]")


def _column_name(column: int, columns: Sequence[str]) -> str:
    return columns[column - 1] if column <= len(columns) else f"field {column}"


def _unstorable(fields: list[str], columns: Sequence[str]) -> tuple[int, str] | None:
    """(column, what) of the first field holding a character the database cannot store."""
    for index, value in enumerate(fields):
        found = _UNSTORABLE.search(value)
        if found is not None:
            char = found.group()
            if char == "\x00":
                what = "a NUL character"
            else:
                what = f"the byte {ord(char) - 0xDC00:#04x}, which is not UTF-8"
            return index + 1, f"{_column_name(index + 1, columns)} holds {what}"
    return None


def _read_csv_rows(path: Path, columns: Sequence[str]) -> Iterator[tuple[int, list[str] | BadRow]]:
    """(line number, fields) of each data row, or (line number, :class:`BadRow`) for a row csv
    cannot read (a field over csv's size limit) or the database cannot store (a byte that is not
    UTF-8, a NUL); the header must be exactly ``columns``."""
    if not path.exists():
        raise ReferenceDataError(
            f"reference file {path} not found (build it: streamflow db build-reference)"
        )
    with path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
        lines = _Lines(handle)
        reader = csv.reader(lines)
        try:
            header = next(reader, None)
        except csv.Error as exc:
            raise ReferenceDataError(f"{path.name} line 1: unreadable header: {exc}") from None
        if header is None or [h.strip() for h in header] != list(columns):
            raise ReferenceDataError(
                f"{path.name} line 1: header must be {','.join(columns)}, found {header!r}"
            )
        while True:
            lines.record = []
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                limit = csv.field_size_limit()
                column = _oversize_column("".join(lines.record), limit)
                if column is None:
                    message = f"not readable as CSV: {exc}"
                else:
                    name = _column_name(column, columns)
                    message = f"{name} is longer than the CSV field limit of {limit} characters"
                yield lines.number, BadRow(path.name, lines.number, message, column=column)
                lines.skip_rest_of_record()
                continue
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue
            unstorable = _unstorable(fields, columns)
            if unstorable is not None:
                column, message = unstorable
                yield lines.number, BadRow(path.name, lines.number, message, column=column)
                continue
            yield lines.number, fields


def _optional_float(
    value: str, what: str, low: float | None = None, high: float | None = None
) -> float | None:
    value = value.strip()
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{what} {value!r} is not a number") from None
    if (
        not math.isfinite(number)
        or (low is not None and number < low)
        or (high is not None and number > high)
    ):
        raise ValueError(f"{what} {value!r} is out of range")
    return number


def _text(value: str, what: str, max_len: int, *, required: bool) -> str | None:
    value = value.strip()
    if not value:
        if required:
            raise ValueError(f"{what} is missing")
        return None
    if len(value) > max_len:
        raise ValueError(f"{what} {value[:60]!r} is longer than {max_len} characters")
    return value


def _mapping_record(fields: list[str]) -> dict:
    source_agency = _text(fields[0], "source_agency", 50, required=True)
    if source_agency not in {a.value for a in Agency}:
        raise ValueError(
            f"unknown source_agency {source_agency!r} (expected one of {', '.join(a.value for a in Agency)})"
        )
    target_agency = _text(fields[2], "target_agency", 50, required=True)
    if target_agency not in {t.value for t in MappingTarget}:
        raise ValueError(
            f"unknown target_agency {target_agency!r} "
            f"(expected one of {', '.join(t.value for t in MappingTarget)})"
        )
    return {
        "source_agency": source_agency,
        "source_id": _text(fields[1], "source_id", 50, required=True),
        "target_agency": target_agency,
        "target_id": _text(fields[3], "target_id", 50, required=True),
    }


def _master_record(fields: list[str]) -> dict:
    agency = _text(fields[8], "agency", 20, required=True)
    if agency not in {a.value for a in Agency}:
        raise ValueError(f"unknown agency {agency!r} (expected one of {', '.join(a.value for a in Agency)})")
    return {
        "station_number": _text(fields[0], "station_number", 50, required=True),
        "station_name": _text(fields[1], "station_name", 10_000, required=True),
        "latitude": _optional_float(fields[2], "latitude", -90, 90),
        "longitude": _optional_float(fields[3], "longitude", -180, 180),
        "state_code": _text(fields[4], "state_code", 10, required=False),
        "huc_code": _text(fields[5], "huc_code", 20, required=False),
        "altitude_ft": _optional_float(fields[6], "altitude_ft"),
        "drainage_area_sqmi": _optional_float(fields[7], "drainage_area_sqmi", 0),
        "agency": agency,
    }


def _upsert_file(
    session: Session,
    path: Path,
    *,
    table,
    columns: Sequence[str],
    key: Sequence[str],
    to_record,
    bad_rows: list[BadRow],
) -> TableLoad:
    counts = TableLoad(file=path.name, table=table.name)
    records: list[dict] = []
    first_line: dict[tuple, int] = {}
    for line, fields in _read_csv_rows(path, columns):
        counts.rows_read += 1
        if isinstance(fields, BadRow):
            bad_rows.append(fields)
            continue
        try:
            if len(fields) != len(columns):
                raise ValueError(f"{len(fields)} columns instead of {len(columns)}")
            record = to_record(fields)
        except ValueError as exc:
            bad_rows.append(BadRow(path.name, line, str(exc)))
            continue
        ident = tuple(record[k] for k in key)
        if ident in first_line:
            bad_rows.append(
                BadRow(path.name, line, f"duplicate of line {first_line[ident]} ({', '.join(ident)})")
            )
            continue
        first_line[ident] = line
        records.append(record)
    counts.skipped = counts.rows_read - len(records)

    # Compare with what is stored first: only new and changed rows are written, and the counts are
    # exact without relying on INSERT rowcounts (which drivers report differently).
    changed_columns = [c for c in columns if c not in key]
    stored = {
        tuple(row[: len(key)]): tuple(row[len(key) :])
        for row in session.execute(select(*(table.c[c] for c in (*key, *changed_columns))))
    }
    to_write = []
    for record in records:
        current = stored.get(tuple(record[k] for k in key))
        if current is None:
            counts.inserted += 1
        elif current != tuple(record[c] for c in changed_columns):
            counts.updated += 1
        else:
            counts.unchanged += 1
            continue
        to_write.append(record)

    insert = _insert_for(session)
    stmt = insert(table)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c[k] for k in key],
        set_={c: stmt.excluded[c] for c in changed_columns},
        # A row another writer already brought up to date is left alone.
        where=or_(*(table.c[c].is_distinct_from(stmt.excluded[c]) for c in changed_columns)),
    )
    for start in range(0, len(to_write), LOAD_BATCH_ROWS):
        # executemany: compiled once; SQLAlchemy sends multi-row VALUES ("insertmanyvalues").
        session.execute(stmt, to_write[start : start + LOAD_BATCH_ROWS])
    counts.total_in_table = session.execute(select(func.count()).select_from(table)).scalar_one()
    log.debug("%s", counts.summary())
    return counts


def load_reference(session: Session, data_dir: Path = DEFAULT_DATA_DIR) -> LoadReport:
    """Upsert ``hads_id_mappings.csv`` and ``master_stations.csv`` from ``data_dir``; the caller commits.

    Rows are keyed on ``unique_mapping_idx`` (source_agency, source_id, target_agency) and on
    ``master_stations.station_number``; a row already stored with the same values is left alone.
    Rows not in the files are not deleted. A bad row (wrong column count, missing id, unknown
    agency, non-numeric coordinate, duplicate key, a field over csv's size limit, a byte that is
    not UTF-8, a NUL) is skipped and reported with file and line (and column where one field is
    at fault); the rows after it still load.
    A missing file or a wrong header raises :class:`ReferenceDataError`.
    """
    data_dir = Path(data_dir)
    bad_rows: list[BadRow] = []
    mappings = _upsert_file(
        session, data_dir / MAPPINGS_FILE, table=StationMapping.__table__, columns=MAPPING_COLUMNS,
        key=("source_agency", "source_id", "target_agency"), to_record=_mapping_record, bad_rows=bad_rows,
    )  # fmt: skip
    master = _upsert_file(
        session, data_dir / MASTER_FILE, table=MasterStation.__table__, columns=MASTER_COLUMNS,
        key=("station_number",), to_record=_master_record, bad_rows=bad_rows,
    )  # fmt: skip
    for bad in bad_rows:
        log.warning("reference row skipped: %s", bad)
    return LoadReport(mappings=mappings, master_stations=master, bad_rows=bad_rows)
