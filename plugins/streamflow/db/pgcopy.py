"""PostgreSQL binary COPY payloads for observation rows, built with numpy (no per-row Python).

The format is PostgreSQL's documented ``COPY … (FORMAT BINARY)`` layout: an 11-byte signature,
a flags word and a header-extension length, then per row a 16-bit field count and per field a
32-bit length (``-1`` for NULL) followed by the value in network byte order; a 16-bit ``-1``
ends the stream. ``timestamptz`` travels as microseconds since 2000-01-01 00:00 UTC, ``float8``
as an IEEE double, ``int4`` as a 32-bit integer and ``varchar`` as its UTF-8 bytes.

Every row of an observation chunk has the same fixed-width head (station id, instant, value);
only the tail (unit, type, quality code) varies, and it takes a handful of distinct values per
chunk. So the payload is assembled as: one packed structured array for the heads, one byte string
per distinct tail, and a scatter of both into a preallocated buffer at computed offsets.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from psycopg import errors, pq
from psycopg.generators import fetch_many  # the step psycopg itself takes to collect a COPY's final result

# The columns of discharge_observations a payload fills, in payload order.
OBSERVATION_COPY_COLUMNS = ("station_id", "observed_at", "discharge", "unit", "type", "quality_code")

_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
_HEADER = _SIGNATURE + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
_TRAILER = (-1).to_bytes(2, "big", signed=True)
# 1970-01-01 → 2000-01-01 in microseconds (PostgreSQL's timestamp epoch).
_PG_EPOCH_US = 946_684_800_000_000

_HEAD = np.dtype(
    [
        ("fields", ">i2"),
        ("sid_len", ">i4"),
        ("sid", ">i4"),
        ("ts_len", ">i4"),
        ("ts", ">i8"),
        ("value_len", ">i4"),
        ("value", ">f8"),
    ]
)  # packed: 34 bytes, no padding


def _text_field(value: str | None) -> bytes:
    if value is None:
        return (-1).to_bytes(4, "big", signed=True)
    data = value.encode("utf-8")
    return len(data).to_bytes(4, "big") + data


def observation_payload(
    station_id: int,
    epoch_us: np.ndarray,
    discharge: np.ndarray,
    tails: Sequence[tuple[str, str, str | None]],
    tail_codes: np.ndarray,
) -> bytes:
    """The binary COPY stream for one station's rows.

    ``epoch_us``: instants as int64 microseconds since 1970-01-01 UTC; ``discharge``: float64;
    ``tails``: the distinct ``(unit, type, quality_code)`` triples; ``tail_codes``: for each row
    the index of its triple in ``tails``. All arrays have one entry per row.
    """
    n = len(epoch_us)
    if not (len(discharge) == len(tail_codes) == n):
        raise ValueError("observation_payload: arrays of different lengths")
    head = np.empty(n, dtype=_HEAD)
    head["fields"] = len(OBSERVATION_COPY_COLUMNS)
    head["sid_len"] = 4
    head["sid"] = station_id
    head["ts_len"] = 8
    head["ts"] = np.asarray(epoch_us, dtype=np.int64) - _PG_EPOCH_US
    head["value_len"] = 8
    head["value"] = discharge
    head_bytes = head.view(np.uint8).reshape(n, _HEAD.itemsize)

    tail_bytes = [b"".join(_text_field(v) for v in tail) for tail in tails]
    codes = np.asarray(tail_codes, dtype=np.intp)
    tail_len = np.array([len(t) for t in tail_bytes], dtype=np.int64)
    row_len = _HEAD.itemsize + tail_len[codes]
    starts = np.zeros(n, dtype=np.int64)
    np.cumsum(row_len[:-1], out=starts[1:])
    body = np.empty(int(row_len.sum()), dtype=np.uint8)

    used = np.unique(codes)
    if len(set(tail_len[used].tolist())) == 1:  # the common case: one stride, a plain 2-D copy
        width = int(tail_len[used[0]])
        rows = body.reshape(n, _HEAD.itemsize + width)
        rows[:, : _HEAD.itemsize] = head_bytes
        table = np.zeros((len(tail_bytes), width), dtype=np.uint8)
        for code in used.tolist():
            table[code] = np.frombuffer(tail_bytes[code], dtype=np.uint8)
        rows[:, _HEAD.itemsize :] = table[codes]
    else:
        body[starts[:, None] + np.arange(_HEAD.itemsize)] = head_bytes
        for code, tail in enumerate(tail_bytes):
            members = np.flatnonzero(codes == code)
            if members.size:
                where = starts[members, None] + _HEAD.itemsize + np.arange(len(tail))
                body[where] = np.frombuffer(tail, dtype=np.uint8)
    return _HEADER + body.tobytes() + _TRAILER


# One stored row as the window query packs it: timestamptz_send || float8send || int4send.
_STORED_RECORD = np.dtype([("ts", ">i8"), ("value", ">f8"), ("code", ">i4")])  # packed: 20 bytes


def parse_stored_records(data: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(epoch µs since 1970, value, code) arrays, sorted by instant, from packed stored records."""
    if len(data) % _STORED_RECORD.itemsize:
        size = _STORED_RECORD.itemsize
        raise ValueError(f"stored records: {len(data)} bytes is not a whole number of {size}-byte records")
    records = np.frombuffer(data, dtype=_STORED_RECORD)
    order = np.argsort(records["ts"], kind="stable")
    epoch_us = records["ts"][order].astype(np.int64) + _PG_EPOCH_US
    return epoch_us, records["value"][order].astype(np.float64), records["code"][order].astype(np.int64)


# --------------------------------------------------------------------------- COPY … TO STDOUT


def copy_out(cursor: Any, sql: str, params: Mapping[str, Any] | None = None, *,
             chunk_bytes: int = 1024 * 1024) -> Iterator[bytes]:
    """The output of ``COPY (…) TO STDOUT`` on a psycopg cursor, in pieces of about ``chunk_bytes``.

    PostgreSQL sends one CopyData message per row, and psycopg's ``Copy`` iterator costs about a
    microsecond of Python per message (a generator and a wait per row), which is most of the CPU
    an export spends outside the database. Rows that libpq has already received are taken here
    straight from ``PGconn.get_copy_data`` without waiting; only when none is buffered does the
    loop hand over to psycopg's ``Copy.read``, which waits on the socket (the GIL released) and
    consumes the input. At the end of the data, the COPY's final result is fetched the way psycopg
    does, so a server error in the middle of the output raises here as psycopg's own exception.
    """
    with cursor.copy(sql, params) as copy:
        conn = cursor.connection
        pgconn = conn.pgconn
        take = pgconn.get_copy_data
        buffer = bytearray()
        while True:
            nbytes, data = take(1)  # 1: never block; 0 = nothing buffered yet, -1 = the data ended
            if nbytes > 0:
                buffer += data
            elif nbytes == 0:
                data = copy.read()  # waits for the next row; b"" once the COPY has ended (result checked)
                if not data:
                    break
                buffer += data
            else:
                results = conn.wait(fetch_many(pgconn))
                if len(results) != 1 or results[0].status != pq.ExecStatus.COMMAND_OK:
                    raise errors.error_from_result(results[-1], encoding=conn.info.encoding)
                break
            if len(buffer) >= chunk_bytes:
                yield bytes(buffer)
                buffer.clear()
        if buffer:
            yield bytes(buffer)
