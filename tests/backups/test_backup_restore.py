"""Backups taken while patrols are written restore everything committed before the backup began, on both databases."""
from __future__ import annotations

import datetime as dt
import os
import stat
import threading
import time
import uuid

import pytest
import sqlalchemy as sa

from gridsvc.audit.context import acting_as
from gridsvc.backups import service
from gridsvc.db import make_engine, session_scope
from gridsvc.errors import ConflictError, ValidationError
from gridsvc.patrols.service import NewPatrol, log_patrol
from tests.conftest import _drop_postgis_database, make_database
from tests.reliability.conftest import build_live_world

START = dt.datetime(2020, 3, 1, tzinfo=dt.timezone.utc)


class Writer(threading.Thread):
    """Logs one-hour patrols one after another, each in its own committed transaction."""

    def __init__(self, sessions, patroller_ids):
        super().__init__(daemon=True)
        self.sessions, self.patroller_ids = sessions, patroller_ids
        self.committed: list[str] = []
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self):
        n = 0
        try:
            with acting_as("test:backup-writer"):
                while not self.stop.is_set():
                    uid = str(uuid.uuid4())
                    start = START + dt.timedelta(hours=2 * (n // len(self.patroller_ids)))
                    with session_scope(self.sessions) as session:
                        log_patrol(session, source="api", patrol=NewPatrol(
                            client_uuid=uid, kind="individual",
                            patroller_id=self.patroller_ids[n % len(self.patroller_ids)],
                            started_at=start, ended_at=start + dt.timedelta(hours=1)))
                    self.committed.append(uid)  # only once the commit returned
                    n += 1
        except BaseException as error:  # noqa: BLE001 - reported by the test
            self.error = error


@pytest.fixture
def target_url(backend, tmp_path_factory):
    """A new, empty database of the backend (no schema at all)."""
    url = make_database(backend, tmp_path_factory)
    yield url
    if backend == "postgis":
        _drop_postgis_database(url)


def _uuids(engine) -> set[str]:
    with engine.connect() as connection:
        return set(connection.execute(sa.text("SELECT client_uuid FROM patrol_sessions")).scalars())


def _integrity(engine) -> dict:
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            return {"integrity_check": connection.exec_driver_sql("PRAGMA integrity_check").scalar(),
                    "foreign_key_violations": len(connection.exec_driver_sql("PRAGMA foreign_key_check").all())}
        return {"orphan_sessions": connection.execute(sa.text(
                    "SELECT count(*) FROM patrol_sessions s LEFT JOIN patrollers p ON p.id = s.patroller_id "
                    "WHERE p.id IS NULL")).scalar_one(),
                "invalid_geometries": connection.execute(sa.text(
                    "SELECT count(*) FROM grids WHERE NOT ST_IsValid(geom)")).scalar_one()}


def test_a_backup_during_writes_restores_every_row_committed_before_it(empty_app, target_url, tmp_path):
    sessions = empty_app.extensions["gridsvc"].sessions
    world = build_live_world(sessions)
    source_instance, target_instance = tmp_path / "instance", tmp_path / "restored-instance"
    source_instance.mkdir()
    (source_instance / "secret_key").write_text("the instance's own key")
    writer = Writer(sessions, world.patroller_ids)
    writer.start()
    try:
        deadline = time.monotonic() + 30
        while len(writer.committed) < 20 and time.monotonic() < deadline and writer.error is None:
            time.sleep(0.05)
        before = list(writer.committed)  # committed before the backup began
        archive = tmp_path / "gridsvc.backup.tar.gz"
        manifest = service.backup(empty_app.extensions["gridsvc"].engine, out=archive, instance_dir=source_instance)
        during = len(writer.committed) - len(before)
        time.sleep(0.3)
    finally:
        writer.stop.set()
        writer.join(timeout=30)
    assert writer.error is None, writer.error
    assert len(before) >= 20

    assert stat.S_IMODE(os.stat(archive).st_mode) == 0o600
    target = make_engine(target_url)
    try:
        counts = service.restore(target, archive_path=archive, instance_dir=target_instance)
        restored = _uuids(target)
        checks = _integrity(target)
        with target.connect() as connection:
            revision = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
        # The target now holds data: a second restore is refused unless forced.
        with pytest.raises(ConflictError):
            service.restore(target, archive_path=archive, instance_dir=target_instance)
        assert service.restore(target, archive_path=archive, instance_dir=target_instance, force=True) == counts
    finally:
        target.dispose()

    assert set(before) <= restored
    assert restored <= set(writer.committed)  # nothing invented, nothing half-written
    assert counts == manifest["table_rows"] and counts["patrol_sessions"] == len(restored)
    assert counts["patrollers"] == len(world.patroller_ids) and counts["users"] == 1
    assert revision == manifest["revision"]
    assert (target_instance / "secret_key").read_text() == "the instance's own key"
    assert stat.S_IMODE(os.stat(target_instance / "secret_key").st_mode) == 0o600
    if target_url.startswith("sqlite"):
        assert checks == {"integrity_check": "ok", "foreign_key_violations": 0}
    else:
        assert checks == {"orphan_sessions": 0, "invalid_geometries": 0}
    print(f"backup: {len(before)} patrols before it, {during} written while it ran, {counts['patrol_sessions']} restored")


def test_restore_refuses_what_is_not_a_backup_or_of_the_other_database(empty_app, tmp_path):
    engine = empty_app.extensions["gridsvc"].engine
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not an archive")
    with pytest.raises(ValidationError) as refused:
        service.restore(engine, archive_path=junk, instance_dir=tmp_path)
    assert refused.value.code == "backup_unreadable"


def test_backup_and_restore_commands(empty_app, tmp_path):
    build_live_world(empty_app.extensions["gridsvc"].sessions)
    runner = empty_app.test_cli_runner()
    with empty_app.app_context():
        archive = tmp_path / "b.tar.gz"
        made = runner.invoke(args=["backup", "--out", str(archive)])
        assert made.exit_code == 0, made.output
        assert "backup written" in made.output
        refused = runner.invoke(args=["restore", str(archive)])
    assert refused.exit_code != 0 and "already holds data" in refused.output
