"""The binary COPY encoder and the stored-record parser, checked against PostgreSQL itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg
import pytest

from sqlalchemy.engine import make_url

from streamflow.db.pgcopy import OBSERVATION_COPY_COLUMNS, copy_out, observation_payload, parse_stored_records
from tests.conftest import POSTGRES_URL


@pytest.fixture
def pg_admin_url() -> str:
    if not POSTGRES_URL:
        pytest.skip("STREAMFLOW_TEST_POSTGRES_URL is not set")
    return make_url(POSTGRES_URL).set(drivername="postgresql").render_as_string(hide_password=False)


def test_parse_stored_records_sorts_and_refuses_torn_input():
    pg_epoch_us = 946_684_800_000_000
    records = np.zeros(2, dtype=np.dtype([("ts", ">i8"), ("value", ">f8"), ("code", ">i4")]))
    records["ts"], records["value"], records["code"] = [60_000_000, 0], [2.5, -1.0], [2, 0]
    epoch_us, values, codes = parse_stored_records(records.tobytes())
    assert epoch_us.tolist() == [pg_epoch_us, pg_epoch_us + 60_000_000]
    assert values.tolist() == [-1.0, 2.5] and codes.tolist() == [0, 2]
    assert [a.size for a in parse_stored_records(b"")] == [0, 0, 0]
    with pytest.raises(ValueError, match="not a whole number of 20-byte records"):
        parse_stored_records(records.tobytes()[:-3])


@pytest.mark.postgres
def test_payload_round_trips_through_postgresql(pg_admin_url):
    """Mixed tails (NULL, multi-byte, different lengths) COPY in and read back exactly."""
    t0 = datetime(1969, 12, 31, 23, 45, tzinfo=UTC)  # before 1970 and before 2000: negative offsets
    instants = [t0 + timedelta(minutes=15 * i) for i in range(5)]
    epoch_us = np.array([int((t - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(microseconds=1)) for t in instants])
    values = np.array([0.0, -1.5, 1e-300, 12345.678901234, np.float64(2) ** 60])
    tails = [("cfs", "realtime_15min", "P"), ("m³/s", "daily_mean", None), ("cfs", "realtime_15min", "A;e")]
    codes = np.array([0, 1, 2, 0, 1])
    payload = observation_payload(7, epoch_us, values, tails, codes)
    with psycopg.connect(pg_admin_url) as conn, conn.cursor() as cur:
        cur.execute(
            "CREATE TEMPORARY TABLE t (station_id int, observed_at timestamptz, discharge float8, unit text,"
            " type text, quality_code text)"
        )
        with cur.copy(f"COPY t ({', '.join(OBSERVATION_COPY_COLUMNS)}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(payload)
        cur.execute("SELECT * FROM t ORDER BY observed_at")
        rows = cur.fetchall()
    assert rows == [
        (7, when, float(value), tails[code][0], tails[code][1], tails[code][2])
        for when, value, code in zip(instants, values, codes, strict=True)
    ]


@pytest.mark.postgres
def test_copy_out_returns_every_byte_in_pieces_and_raises_a_server_error(pg_admin_url):
    """The fast COPY TO reader: the same bytes as psycopg's own iterator, cut at about chunk_bytes;
    an error the server raises after rows were sent surfaces as psycopg's exception; the
    connection stays usable; an empty result yields nothing."""
    sql = "COPY (SELECT i, 'x,' || i, i / 7.0 FROM generate_series(1, 20000) AS i) TO STDOUT (FORMAT csv)"
    with psycopg.connect(pg_admin_url) as conn, conn.cursor() as cur:
        with cur.copy(sql) as copy:
            expected = b"".join(bytes(data) for data in copy)
        pieces = list(copy_out(cur, sql, chunk_bytes=10_000))
        assert b"".join(pieces) == expected and expected.count(b"\n") == 20_000
        assert len(pieces) > 20 and all(10_000 <= len(p) < 10_100 for p in pieces[:-1])
        assert b'1,"x,1",' in expected  # CSV quoting is the server's
        assert list(copy_out(cur, "COPY (SELECT 1 WHERE false) TO STDOUT", None)) == []
        assert b"".join(copy_out(cur, "COPY (SELECT %(v)s::int) TO STDOUT", {"v": 7})) == b"7\n"
        received = 0
        with pytest.raises(psycopg.errors.DivisionByZero):
            for piece in copy_out(cur, "COPY (SELECT 1 / (i - 30000) FROM generate_series(1, 40000) AS i) TO STDOUT",
                                  chunk_bytes=1_000):
                received += piece.count(b"\n")
        assert 0 < received < 30_000  # rows arrived before the error
        conn.rollback()
        cur.execute("SELECT 42")
        assert cur.fetchone() == (42,)
