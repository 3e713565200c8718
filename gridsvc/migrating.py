"""Alembic support shared by migrations/env.py and the tests: which tables are gridsvc's, old heads merged."""
from __future__ import annotations

import re

from geoalchemy2 import alembic_helpers

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


# On PostgreSQL the positions table is partitioned by month: its partitions are made by
# gridsvc.positions.partitions, not by the models.
POSITION_PARTITION = re.compile(r"positions_(default|p[0-9]{6})")


def include_object(obj, name, type_, reflected, compare_to):
    """Compare only gridsvc's own tables."""
    if type_ == "table" and (name in EXTENSION_TABLES or name.startswith(("idx_", "sqlite_"))
                             or POSITION_PARTITION.fullmatch(name or "")):
        return False
    return alembic_helpers.include_object(obj, name, type_, reflected, compare_to)


# Until 2026-12 revisions 0002-0005 each descended from 0001 (four heads); they now form one line
# 0001 -> 0002 -> 0003 -> 0004 -> 0005 in that order. A database upgraded under the old graph holds
# one alembic_version row per branch head it applied.
LEGACY_BRANCH_CHAIN = ("0001", "0002", "0003", "0004", "0005")


def merge_legacy_branch_heads(connection) -> None:
    """Rewrite an old four-head alembic_version as the one row of the linear chain it amounts to."""
    if not connection.dialect.has_table(connection, "alembic_version"):
        return
    applied = {row[0] for row in connection.exec_driver_sql("SELECT version_num FROM alembic_version")}
    if len(applied) < 2:
        return
    if not applied <= set(LEGACY_BRANCH_CHAIN):
        raise RuntimeError(f"alembic_version holds several revisions {sorted(applied)}; cannot tell the schema")
    # Every branch descended from 0001, so a set of branch heads is the chain's prefix only when no
    # revision before the newest one applied is missing.
    newest = max(LEGACY_BRANCH_CHAIN.index(revision) for revision in applied)
    missing = [revision for revision in LEGACY_BRANCH_CHAIN[1:newest] if revision not in applied]
    if missing:
        raise RuntimeError(
            f"this database has revisions {sorted(applied)} but not {missing}; apply those with the old "
            "release first, or restore a backup")
    connection.exec_driver_sql("DELETE FROM alembic_version")
    connection.exec_driver_sql(
        f"INSERT INTO alembic_version (version_num) VALUES ('{LEGACY_BRANCH_CHAIN[newest]}')")
    connection.commit()


def rewrite_sqlite_check(connection, *, table: str, old: str, new: str) -> None:
    """Change a CHECK constraint of a SQLite table in place (SQLite's documented writable_schema procedure).

    Only for a check every stored row also satisfies (widening it, or narrowing it once the rows it
    would refuse are gone): the table is not rebuilt, which would have to re-register SpatiaLite
    geometry columns and, with foreign keys on, cascade into the rows that reference it.
    """
    import sqlalchemy as sa

    select = "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :table"
    sql = connection.execute(sa.text(select), {"table": table}).scalar()
    if old not in sql:
        raise RuntimeError(f"{table}: the CHECK constraint is not the one this revision expects")
    version = connection.exec_driver_sql("PRAGMA schema_version").scalar()
    connection.exec_driver_sql("PRAGMA writable_schema = ON")
    connection.execute(sa.text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = :table"),
                       {"sql": sql.replace(old, new), "table": table})
    connection.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    connection.exec_driver_sql("PRAGMA writable_schema = OFF")
