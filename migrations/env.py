"""Alembic environment: uses gridsvc's engine; keeps SpatiaLite's and PostGIS's own tables out."""
from __future__ import annotations

from alembic import context
from geoalchemy2 import alembic_helpers

from gridsvc.migrating import include_object, merge_legacy_branch_heads
from gridsvc.models import Base


def run_migrations() -> None:
    """Run migrations on the engine gridsvc passes in (or one built from its configuration)."""
    engine = context.config.attributes.get("engine")
    if engine is None:
        from config import load_config
        from gridsvc.db import make_engine

        settings = load_config()
        engine = make_engine(settings["DATABASE_URL"], spatialite_path=settings["SPATIALITE_LIBRARY_PATH"])
    with engine.connect() as connection:
        merge_legacy_branch_heads(connection)
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            include_object=include_object,
            process_revision_directives=alembic_helpers.writer,
            render_item=alembic_helpers.render_item,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations()
