"""Engines and sessions for the streamflow database (SQLite embedded default, PostgreSQL production)."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from streamflow.db.url import normalize_url, resolve_database_url

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # Mapped tasks write from parallel processes under the LocalExecutor (docs/architecture.md#trap-sqlite-wal):
    # WAL lets readers run beside the writer, busy_timeout makes writers wait instead of failing.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _url(url: str | None) -> str:
    return normalize_url(url) if url else resolve_database_url()


def make_engine(url: str | None = None, **kwargs) -> Engine:
    """A new engine for ``url`` (default: the configured streamflow database, ``streamflow.db.url``)."""
    url = _url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    if parsed.get_backend_name() == "postgresql" and "options" not in parsed.query:
        # Sessions in UTC whatever the server's or role's TimeZone: under a negative offset a stored
        # 0001-01-01T00:00Z reads as year 0, which psycopg refuses, failing the whole read.
        kwargs["connect_args"] = {"options": "-c timezone=UTC", **kwargs.get("connect_args", {})}
    return create_engine(url, **kwargs)


def get_engine(url: str | None = None) -> Engine:
    """A process-wide engine per URL (connection pools are per process)."""
    url = _url(url)
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = make_engine(url)
        return engine


def dispose_engines() -> None:
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error."""
    factory = sessionmaker(bind=engine or get_engine(), expire_on_commit=False)
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
