"""Alembic environment: takes an injected connection (tests, CLI) or connects to the streamflow
database that ``streamflow.db.url`` resolves (``docs/adr/0010-database-url.md``)."""

from __future__ import annotations

from functools import partial
from logging.config import fileConfig

from alembic import context

from streamflow.db.engine import make_engine
from streamflow.db.migrate import include_object
from streamflow.db.models import Base
from streamflow.db.url import resolve_database_url

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def _url() -> str:
    """The ``sqlalchemy.url`` set by ``streamflow.db.migrate.alembic_config(engine)``, else the resolved one."""
    return config.get_main_option("sqlalchemy.url") or resolve_database_url()


def _configure(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # Only our tables; FKs a dialect enforces with triggers (ADR 0005) are not "missing".
        include_object=partial(include_object, dialect_name=connection.dialect.name),
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def run_migrations_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(_url())
    try:
        with engine.connect() as connection:
            _configure(connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
