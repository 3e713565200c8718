"""Every write leaves an audit record (who, when, what, before, after), and the trail can't be edited."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

import gridsvc.models  # noqa: F401  (every model)
from gridsvc.audit.listener import REDACTED, AuditLogIsAppendOnly
from gridsvc.audit.models import AuditEntry
from gridsvc.db import Base


def _entries(session, table, row_id=None, action=None):
    query = sa.select(AuditEntry).where(AuditEntry.table_name == table).order_by(AuditEntry.id)
    if row_id is not None:
        query = query.where(AuditEntry.row_id == str(row_id))
    if action:
        query = query.where(AuditEntry.action == action)
    return list(session.scalars(query))


def _last_id(session) -> int:
    return session.scalar(sa.select(sa.func.max(AuditEntry.id))) or 0


def test_the_seed_is_recorded_as_the_seed(session):
    counts = dict(session.execute(
        sa.select(AuditEntry.table_name, sa.func.count()).where(AuditEntry.actor.like("seed%"))
        .group_by(AuditEntry.table_name)).all())
    assert counts["grids"] == 16 and counts["cameras"] == 252 and counts["patrollers"] == 662
    assert counts["patrol_sessions"] == 6172 and counts["users"] == 7


def test_an_api_write_records_actor_request_and_values(client, session):
    from tests.auth.test_access_matrix import STATION_1, _cell, _point_in

    lon, lat = _point_in(client, STATION_1)
    created = client.post("/api/v1/grids", json={"name": "审计单元", "level": "cell", "parent_code": STATION_1,
                                                 "geometry": _cell(lon, lat)})
    assert created.status_code == 201
    entry = session.scalar(sa.select(AuditEntry).where(AuditEntry.table_name == "grids", AuditEntry.action == "insert")
                           .order_by(AuditEntry.id.desc()).limit(1))
    assert entry.actor == "user:admin" and entry.actor_user_id is not None
    assert entry.ip == "127.0.0.1" and entry.request_id and entry.before is None
    assert entry.after["code"] == created.get_json()["code"] and entry.after["name"] == "审计单元"
    assert entry.after["geom"]["wkt"].startswith("MULTIPOLYGON")


def test_a_refused_write_leaves_no_record(client, session):
    before = _last_id(session)
    refused = client.post("/api/v1/grids", json={"name": "x", "level": "cell", "parent_code": "350600001001",
                                                 "geometry": {"type": "Point", "coordinates": [0, 0]}})
    assert refused.status_code == 422
    assert _last_id(session) == before


def test_every_model_update_and_delete_records_before_and_after(app):
    """Generic over every mapped table: change a text or number column of a stored row, then delete a row."""
    from gridsvc.db import session_scope

    checked = []
    with session_scope(app.extensions["gridsvc"].sessions) as session:
        for mapper in sorted(Base.registry.mappers, key=lambda m: m.local_table.name):
            table = mapper.local_table
            if table.name == "audit_log":
                continue
            instance = session.scalar(sa.select(mapper.class_).limit(1))
            if instance is None:
                continue
            candidates = [c for c in table.columns if not c.primary_key and not c.foreign_keys and not c.unique
                          and isinstance(c.type, (sa.String, sa.Integer)) and not isinstance(c.type, sa.Boolean)
                          and c.name not in getattr(mapper.class_, "__audit_ignore__", ())
                          and c.name not in getattr(mapper.class_, "__audit_redact__", ())]
            for column in candidates:
                key = mapper.get_property_by_column(column).key
                old = getattr(instance, key)
                new = (old or "")[:-1] + "·" if isinstance(column.type, sa.String) else (old or 0) + 1
                try:
                    with session.begin_nested():
                        setattr(instance, key, new)
                        session.flush()
                except sa.exc.IntegrityError:  # a check constraint on that column: try the next one
                    continue
                entry = _entries(session, table.name, ",".join(map(str, mapper.primary_key_from_instance(instance))),
                                 "update")[-1]
                assert entry.before == {column.name: old} and entry.after == {column.name: new}, table.name
                checked.append(table.name)
                break
    expected = {"grids", "cameras", "patrollers", "patrol_sessions", "patrol_tasks", "users"}
    assert expected <= set(checked), sorted(expected - set(checked))


def test_deletes_record_the_row_as_it_was(app, session):
    from gridsvc.audit.context import acting_as
    from gridsvc.db import session_scope
    from gridsvc.grids.service import delete_grid

    with session_scope(app.extensions["gridsvc"].sessions) as db_session:
        from gridsvc.grids.service import create_grid

        station = db_session.scalar(sa.select(gridsvc.models.Grid).where(gridsvc.models.Grid.code == "350600001001"))
        from gridsvc.geo.shapes import from_db

        point = from_db(station.geom).representative_point()
        with acting_as("test-deleter"):
            cell = create_grid(db_session, name="删除测试", level="cell", parent_code=station.code, region_code="350600",
                               geometry={"type": "Polygon", "coordinates": [[[point.x, point.y], [point.x + 1e-4, point.y],
                                         [point.x + 1e-4, point.y + 1e-4], [point.x, point.y + 1e-4], [point.x, point.y]]]})
            delete_grid(db_session, code=cell.code)
    entry = _entries(session, "grids", action="delete")[-1]
    assert entry.actor.startswith("test-deleter") and entry.after is None
    assert entry.before["name"] == "删除测试" and entry.before["level"] == "cell"


def test_bulk_update_statements_are_recorded(app, session):
    from gridsvc.cameras.models import Camera
    from gridsvc.db import session_scope

    with session_scope(app.extensions["gridsvc"].sessions) as db_session:
        ids = list(db_session.scalars(sa.select(Camera.id).order_by(Camera.id).limit(3)))
        db_session.execute(sa.update(Camera).where(Camera.id.in_(ids)).values(status="fault"))
    for camera_id in ids:
        entry = _entries(session, "cameras", camera_id, "update")[-1]
        assert entry.after["status"] == "fault" and entry.before["status"] != "fault"


def test_secrets_are_redacted(client, session):
    created = client.post("/api/v1/users", json={"username": "audited", "password": "a long enough password",
                                                 "role": "manager"})
    assert created.status_code == 201
    entry = _entries(session, "users", created.get_json()["id"], "insert")[-1]
    assert entry.after["password_hash"] == REDACTED and entry.after["username"] == "audited"
    issued = client.post("/api/v1/auth/tokens", json={"username": "audited", "password": "a long enough password"})
    token_entry = _entries(session, "api_tokens", issued.get_json()["id"], "insert")[-1]
    assert token_entry.after["token_hash"] == REDACTED


def test_sign_in_and_sign_out_are_traced(app, session):
    from tests.auth.conftest import csrf_token_of, sign_in_form
    from tests.conftest import DEMO_PASSWORD

    previous = app.config.get("WTF_CSRF_ENABLED", True)
    app.config["WTF_CSRF_ENABLED"] = True
    browser = app.test_client()
    try:
        sign_in_form(browser, "station1", "wrong password")
        sign_in_form(browser, "station1", DEMO_PASSWORD)
        # Every page (even an error page) carries the CSRF token in its <meta name="csrf-token">.
        browser.post("/logout", data={"csrf_token": csrf_token_of(browser.get("/").get_data(as_text=True))})
    finally:
        app.config["WTF_CSRF_ENABLED"] = previous
    failure = _entries(session, "login_throttles", "user:station1")[0]
    assert failure.actor == "anonymous" and failure.after["failures"] == 1
    opened = _entries(session, "web_sessions", action="insert")[-1]
    assert opened.actor == "user:station1" and opened.after["sid_hash"] == REDACTED
    closed = _entries(session, "web_sessions", opened.row_id, "update")[-1]
    assert closed.actor == "user:station1" and closed.after["ended_reason"] == "logout"


def test_cli_writes_are_attributed_to_the_cli(app, session):
    from gridsvc.auth.cli import users_group

    runner = app.test_cli_runner()
    result = runner.invoke(users_group, ["create", "cli-made", "--role", "manager", "--password", "quartz lantern cli 47"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(users_group, ["reset-password", "cli-made", "--password", "harbor velvet second 93"])
    assert result.exit_code == 0, result.output
    token = runner.invoke(users_group, ["token", "create", "cli-made"])
    assert token.exit_code == 0 and "gs_" in token.output
    listed = runner.invoke(users_group, ["list"])
    assert "cli-made" in listed.output
    user_id = session.scalar(sa.select(gridsvc.models.User.id).where(gridsvc.models.User.username == "cli-made"))
    actions = [(e.action, e.actor.split(":")[0]) for e in _entries(session, "users", user_id)]
    assert actions == [("insert", "cli"), ("update", "cli")]
    reset = _entries(session, "users", user_id, "update")[-1]
    assert reset.before["password_hash"] == reset.after["password_hash"] == REDACTED


def test_the_trail_cannot_be_edited_through_the_orm(app):
    from gridsvc.db import session_scope

    with pytest.raises(AuditLogIsAppendOnly):
        with session_scope(app.extensions["gridsvc"].sessions) as db_session:
            entry = db_session.scalar(sa.select(AuditEntry).limit(1))
            entry.actor = "someone else"
            db_session.flush()
    with pytest.raises(AuditLogIsAppendOnly):
        with session_scope(app.extensions["gridsvc"].sessions) as db_session:
            db_session.delete(db_session.scalar(sa.select(AuditEntry).limit(1)))
            db_session.flush()
    with pytest.raises(AuditLogIsAppendOnly):
        with session_scope(app.extensions["gridsvc"].sessions) as db_session:
            db_session.execute(sa.delete(AuditEntry))


@pytest.mark.parametrize("statement", ["UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log"])
def test_the_database_refuses_to_edit_the_trail(app, statement):
    from gridsvc.db import session_scope

    with pytest.raises(sa.exc.DatabaseError, match="append-only"):
        with session_scope(app.extensions["gridsvc"].sessions) as db_session:
            db_session.connection().exec_driver_sql(statement)


def test_no_route_writes_the_trail(app):
    for rule in app.url_map.iter_rules():
        if "audit" in rule.rule:
            assert rule.methods <= {"GET", "HEAD", "OPTIONS"}, rule.rule


def test_admins_browse_and_filter_the_trail(client, session):
    grid_id = session.scalar(sa.select(gridsvc.models.Grid.id).where(gridsvc.models.Grid.code == "350600001001"))
    api = client.get(f"/api/v1/audit?table=grids&row_id={grid_id}").get_json()
    assert api["total"] == 1 and api["entries"][0]["action"] == "insert" and api["entries"][0]["actor"].startswith("seed")
    paged = client.get("/api/v1/audit?table=patrol_sessions&page=2&page_size=10").get_json()
    assert paged["total"] == 6172 and len(paged["entries"]) == 10 and paged["page"] == 2
    assert client.get("/api/v1/audit?actor=seed&from=2000-01-01&to=2000-01-02").get_json()["total"] == 0
    assert client.get("/api/v1/audit?from=not-a-date").status_code == 422
    page = client.get(f"/audit?table=grids&row_id={grid_id}&lang=en")
    assert page.status_code == 200 and "1 entries" in page.get_data(as_text=True)
