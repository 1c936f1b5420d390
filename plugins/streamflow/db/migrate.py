"""Run the Alembic migrations programmatically (the only way the schema is created)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from streamflow.db.engine import make_engine
from streamflow.db.models import Base
from streamflow.db.url import resolve_database_url

# alembic.ini sits at the repository root, two levels above plugins/streamflow.
REPO_ROOT = Path(__file__).resolve().parents[3]
ALEMBIC_INI = REPO_ROOT / "alembic.ini"

# Foreign keys the models declare but a dialect enforces with triggers instead (ADR 0005).
TRIGGER_ENFORCED_FOREIGN_KEYS = {
    "postgresql": {("discharge_observations", "fk_discharge_observations_station_id_stations")},
}


def include_object(obj, name, type_, reflected, compare_to, *, dialect_name: str) -> bool:
    """Alembic's ``include_object`` for comparing the models with a database of ``dialect_name``.

    Only our tables are compared (the database may host others: Airflow's, in a shared
    PostgreSQL), and a foreign key the dialect enforces with triggers is not reported missing.
    Use ``functools.partial(include_object, dialect_name=...)``.
    """
    if type_ == "table":
        return name in Base.metadata.tables
    if type_ == "foreign_key_constraint" and not reflected:
        table = getattr(getattr(obj, "parent", None), "name", None)
        return (table, name) not in TRIGGER_ENFORCED_FOREIGN_KEYS.get(dialect_name, set())
    return True


def alembic_config(engine: Engine | None = None, *, configure_logging: bool = False) -> Config:
    if not ALEMBIC_INI.exists():
        raise FileNotFoundError(
            f"{ALEMBIC_INI} not found: install the package from a checkout (pip install -e .)"
        )
    cfg = Config(str(ALEMBIC_INI))
    cfg.attributes["configure_logging"] = configure_logging
    if engine is not None:
        cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return cfg


@contextmanager
def _engine(engine: Engine | None) -> Iterator[Engine]:
    """``engine``, or one for the resolved streamflow database that is disposed afterwards."""
    if engine is not None:
        yield engine
        return
    own = make_engine(resolve_database_url())
    try:
        yield own
    finally:
        own.dispose()


def _run(action, engine: Engine | None, *args) -> None:
    with _engine(engine) as engine, engine.begin() as connection:
        cfg = alembic_config(engine)
        cfg.attributes["connection"] = connection
        action(cfg, *args)


def upgrade(engine: Engine | None = None, revision: str = "head") -> None:
    _run(command.upgrade, engine, revision)


def downgrade(engine: Engine | None = None, revision: str = "base") -> None:
    _run(command.downgrade, engine, revision)


def current_revision(engine: Engine | None = None) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with _engine(engine) as engine, engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
