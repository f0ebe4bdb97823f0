"""Alembic environment: the URL comes from the caller's config, never from alembic.ini."""

from __future__ import annotations

from alembic import context
from alembic.ddl.impl import DefaultImpl

from cvp.campaigns import store as campaign_store  # noqa: F401
from cvp.contract import store as contract_store  # noqa: F401
from cvp.data.schema import metadata
from cvp.features import store  # noqa: F401  (registers feature_snapshots on the metadata)
from cvp.monitoring import store as monitoring_store  # noqa: F401
from cvp.scoring import store as scoring_store  # noqa: F401
from cvp.validation import store as validation_store  # noqa: F401


class DuckDBImpl(DefaultImpl):
    """Alembic has no built-in DuckDB dialect; the PostgreSQL-like defaults work."""

    __dialect__ = "duckdb"
    transactional_ddl = True


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("cvp migrations run through cvp.data.migrate, which passes a connection")
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=False)
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
