"""Alembic environment: uses gridsvc's engine; keeps SpatiaLite's and PostGIS's own tables out."""
from __future__ import annotations

from alembic import context
from geoalchemy2 import alembic_helpers

from gridsvc.models import Base

# Tables the spatial extensions create and own; autogenerate must never drop them (field notes §5).
EXTENSION_TABLES = {
    "spatial_ref_sys", "spatial_ref_sys_aux", "spatialite_history", "sql_statements_log", "geometry_columns",
    "geometry_columns_auth", "geometry_columns_statistics", "geometry_columns_field_infos",
    "geometry_columns_time", "views_geometry_columns", "virts_geometry_columns", "views_geometry_columns_auth",
    "virts_geometry_columns_auth", "views_geometry_columns_statistics", "virts_geometry_columns_statistics",
    "views_geometry_columns_field_infos", "virts_geometry_columns_field_infos", "SpatialIndex", "KNN", "KNN2",
    "ElementaryGeometries", "data_licenses", "vector_coverages", "vector_coverages_srid", "vector_coverages_ref_sys",
    "vector_coverages_keyword", "raster_coverages", "raster_coverages_srid", "raster_coverages_ref_sys",
    "raster_coverages_keyword", "topologies", "networks", "wms_getcapabilities", "wms_getmap", "wms_settings",
    "wms_ref_sys", "rl2map_configurations", "SE_fonts", "SE_vector_styles", "SE_raster_styles",
    "SE_vector_styled_layers", "SE_raster_styled_layers", "SE_external_graphics", "SE_group_styles",
    "SE_styled_groups", "SE_styled_group_refs", "stored_procedures", "stored_variables", "ISO_metadata",
    "ISO_metadata_reference", "ISO_metadata_view", "layer_statistics", "views_layer_statistics",
    "virts_layer_statistics", "geom_cols_ref_sys", "spatial_ref_sys_all", "vector_layers",
    "vector_layers_auth", "vector_layers_statistics", "vector_layers_field_infos", "alembic_version",
}


def include_object(obj, name, type_, reflected, compare_to):
    """Compare only gridsvc's own tables."""
    if type_ == "table" and (name in EXTENSION_TABLES or name.startswith(("idx_", "sqlite_"))):
        return False
    return alembic_helpers.include_object(obj, name, type_, reflected, compare_to)


def run_migrations() -> None:
    """Run migrations on the engine gridsvc passes in (or one built from its configuration)."""
    engine = context.config.attributes.get("engine")
    if engine is None:
        from config import load_config
        from gridsvc.db import make_engine

        settings = load_config()
        engine = make_engine(settings["DATABASE_URL"], spatialite_path=settings["SPATIALITE_LIBRARY_PATH"])
    with engine.connect() as connection:
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
