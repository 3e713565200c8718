"""Is the database reachable, and is its schema at the newest migration?"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from config import PROJECT_ROOT


def head_revision() -> str:
    """The newest Alembic revision shipped with this code."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    return ScriptDirectory.from_config(config).get_current_head()


def check(session: Session, *, head: str) -> dict:
    """{'database': 'ok'|'unreachable', 'schema': 'ok'|'behind'|'missing', 'ok': bool}; never raises."""
    try:
        session.execute(sa.text("SELECT 1"))
    except sa.exc.DBAPIError:
        return {"ok": False, "database": "unreachable", "schema": "unknown"}
    try:
        with session.begin_nested():
            versions = [row[0] for row in session.execute(sa.text("SELECT version_num FROM alembic_version"))]
    except sa.exc.DBAPIError:  # reachable, but no alembic_version table: never migrated
        return {"ok": False, "database": "ok", "schema": "missing"}
    schema = "ok" if versions == [head] else "behind"
    return {"ok": schema == "ok", "database": "ok", "schema": schema}
