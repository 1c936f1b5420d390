"""Run the Alembic migrations programmatically (the only way the schema is created)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from streamflow.db.engine import make_engine

# alembic.ini sits at the repository root, two levels above plugins/streamflow.
REPO_ROOT = Path(__file__).resolve().parents[3]
ALEMBIC_INI = REPO_ROOT / "alembic.ini"


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


def _run(action, engine: Engine | None, *args) -> None:
    engine = engine or make_engine()
    with engine.begin() as connection:
        cfg = alembic_config(engine)
        cfg.attributes["connection"] = connection
        action(cfg, *args)


def upgrade(engine: Engine | None = None, revision: str = "head") -> None:
    _run(command.upgrade, engine, revision)


def downgrade(engine: Engine | None = None, revision: str = "base") -> None:
    _run(command.downgrade, engine, revision)


def current_revision(engine: Engine | None = None) -> str | None:
    from alembic.runtime.migration import MigrationContext

    engine = engine or make_engine()
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
