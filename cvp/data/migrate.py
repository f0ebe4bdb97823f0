"""Schema management through Alembic, driven from Python so `cvp init` needs no alembic.ini."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(connection=None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade_warehouse(engine: Engine, revision: str = "head") -> None:
    """Create or upgrade every warehouse table to the latest revision."""
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def make_revision(engine: Engine, message: str) -> None:
    """Autogenerate a migration from the schema module (developer tool)."""
    with engine.begin() as connection:
        command.revision(alembic_config(connection), message=message, autogenerate=True)
