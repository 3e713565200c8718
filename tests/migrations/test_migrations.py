"""Alembic: one head, and every earlier revision upgrades to a schema equal to the models, on both databases."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from gridsvc import create_app
from gridsvc.cli import alembic_config
from gridsvc.migrating import include_object
from gridsvc.models import Base
from tests.conftest import REGION_CODE, _drop_postgis_database, make_database


def _script() -> ScriptDirectory:
    from config import PROJECT_ROOT

    from alembic.config import Config

    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    return ScriptDirectory.from_config(config)


REVISIONS = [revision.revision for revision in reversed(list(_script().walk_revisions()))]


def test_there_is_exactly_one_head():
    assert _script().get_heads() == [REVISIONS[-1]]
    assert len(REVISIONS) >= 5


@pytest.fixture
def fresh_app(backend, tmp_path_factory):
    """An app on a new database with no schema at all."""
    url = make_database(backend, tmp_path_factory)
    application = create_app({"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "test", "REGION_CODE": REGION_CODE})
    yield application
    application.extensions["gridsvc"].engine.dispose()
    if backend == "postgis":
        _drop_postgis_database(url)


def _schema_differences(application) -> list:
    with application.extensions["gridsvc"].engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_object": include_object})
        return compare_metadata(context, Base.metadata)


def _versions(application) -> list[str]:
    with application.extensions["gridsvc"].engine.connect() as connection:
        return [row[0] for row in connection.exec_driver_sql("SELECT version_num FROM alembic_version")]


@pytest.mark.parametrize("start", ["base", *REVISIONS[:-1]])
def test_every_earlier_revision_upgrades_to_the_models(fresh_app, start):
    with fresh_app.app_context():
        if start != "base":
            command.upgrade(alembic_config(), start)
            assert _versions(fresh_app) == [start]
        command.upgrade(alembic_config(), "head")
    assert _versions(fresh_app) == [REVISIONS[-1]]
    assert _schema_differences(fresh_app) == []


def test_a_database_migrated_under_the_old_four_heads_upgrades(fresh_app):
    # Before the chain was made linear, "upgrade heads" left one row per branch head (0002-0005).
    with fresh_app.app_context():
        command.upgrade(alembic_config(), "0005")
    with fresh_app.extensions["gridsvc"].engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM alembic_version")
        for revision in ("0002", "0003", "0004", "0005"):
            connection.execute(sa.text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": revision})
    with fresh_app.app_context():
        command.upgrade(alembic_config(), "head")
    assert _versions(fresh_app) == [REVISIONS[-1]]


def test_the_newest_revisions_downgrade_and_upgrade_again(fresh_app):
    # 0010 (the audit trail's read action) and 0011 (session status) rewrite SQLite's table text in
    # place: undone and done again, the schema is the models' once more.
    with fresh_app.app_context():
        command.upgrade(alembic_config(), "head")
        command.downgrade(alembic_config(), "0009")
        assert _versions(fresh_app) == ["0009"]
        command.upgrade(alembic_config(), "head")
    assert _versions(fresh_app) == [REVISIONS[-1]]
    assert _schema_differences(fresh_app) == []
