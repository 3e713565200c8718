"""Backups that restore: the database and every file gridsvc keeps, in one archive readable only by its owner.

An archive (tar, gzip) holds:
- manifest.json: format, backend, when, the schema revision, and the row count of every table;
- database.sqlite (SQLite's online backup API: one consistent snapshot while the server writes)
  or database.pgdump (pg_dump's custom format: one snapshot in a single transaction);
- instance/secret_key (sessions and CSRF tokens stay valid after a restore) and, later, photos.

Flask-free: the CLI (gridsvc.backups.cli) passes the engine and the instance folder.
"""
from __future__ import annotations

import datetime as dt
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from gridsvc.errors import ConflictError, ValidationError

FORMAT = "gridsvc-backup/1"
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database.sqlite"
POSTGRES_MEMBER = "database.pgdump"
# Files of the instance folder that belong in a backup (the database itself is taken separately).
INSTANCE_FILES = ("secret_key",)
INSTANCE_FOLDERS = ("photos",)


def _backend(engine: Engine) -> str:
    return "spatialite" if engine.dialect.name == "sqlite" else "postgis"


def table_counts(engine: Engine) -> dict[str, int]:
    """Rows in every gridsvc table that exists (SpatiaLite's and PostGIS's own tables left out)."""
    import gridsvc.models  # noqa: F401  (registers every model's table)
    from gridsvc.db import Base

    inspector = sa.inspect(engine)
    present = set(inspector.get_table_names())
    with engine.connect() as connection:
        return {table.name: connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
                for table in Base.metadata.sorted_tables if table.name in present}


def _revision(engine: Engine) -> str | None:
    if not sa.inspect(engine).has_table("alembic_version"):
        return None
    with engine.connect() as connection:
        return connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def libpq_url(engine: Engine) -> str:
    """The engine's PostgreSQL URL as pg_dump and pg_restore take it: no driver suffix, no password
    (a command line is readable by every local user; _run passes the password as PGPASSWORD)."""
    return engine.url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)


def _sqlite_snapshot(engine: Engine, target: Path) -> None:
    """Copy the live SQLite database into `target` with the online backup API, in one step."""
    import pysqlite3.dbapi2 as sqlite

    raw = engine.raw_connection()
    try:
        destination = sqlite.connect(str(target))
        try:
            # pages=-1: the whole database in one step, under one read transaction -- a consistent
            # snapshot even while other connections write (WAL: they are not blocked meanwhile).
            raw.driver_connection.backup(destination, pages=-1)
        finally:
            destination.close()
    finally:
        raw.close()


def _postgres_dump(engine: Engine, target: Path) -> dict[str, int]:
    """pg_dump into `target` from an exported snapshot; the row counts of that very snapshot."""
    import gridsvc.models  # noqa: F401
    from gridsvc.db import Base

    present = set(sa.inspect(engine).get_table_names())
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as connection:
        with connection.begin():
            snapshot_id = connection.execute(sa.text("SELECT pg_export_snapshot()")).scalar_one()
            counts = {table.name: connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
                      for table in Base.metadata.sorted_tables if table.name in present}
            # The snapshot lives while this transaction is open: pg_dump sees exactly what was counted,
            # and writers are never blocked meanwhile.
            _run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot_id}",
                  f"--file={target}", libpq_url(engine)], "pg_dump", engine)
    return counts


def _run(command: list[str], what: str, engine: Engine) -> None:
    env = dict(os.environ)
    if engine.url.password:
        env["PGPASSWORD"] = engine.url.password
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed ({result.returncode}): {result.stderr.strip()[-2000:]}")


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o600, int(dt.datetime.now().timestamp())
    archive.addfile(info, io.BytesIO(data))


def backup(engine: Engine, *, out: Path, instance_dir: Path, progress=None) -> dict:
    """Write one archive of the database and the instance files to `out` (mode 0600); returns its manifest."""
    report = progress or (lambda stage: None)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    backend = _backend(engine)
    started = dt.datetime.now(dt.timezone.utc)
    with tempfile.TemporaryDirectory(prefix="gridsvc-backup-", dir=out.parent) as work:
        work_dir = Path(work)
        os.chmod(work_dir, 0o700)
        report("database")
        if backend == "spatialite":
            member, snapshot = SQLITE_MEMBER, work_dir / SQLITE_MEMBER
            _sqlite_snapshot(engine, snapshot)
            counts = table_counts(_snapshot_engine(snapshot))
        else:
            member, snapshot = POSTGRES_MEMBER, work_dir / POSTGRES_MEMBER
            counts = _postgres_dump(engine, snapshot)
        manifest = {
            "format": FORMAT, "backend": backend, "created_at": started.isoformat(),
            "revision": _revision(engine), "database": member, "table_rows": counts,
            "files": [f"instance/{name}" for name in INSTANCE_FILES if (instance_dir / name).is_file()],
        }
        report("archive")
        partial = work_dir / "archive.tar.gz"
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle, tarfile.open(fileobj=handle, mode="w:gz") as archive:
            _add_bytes(archive, MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False).encode())
            archive.add(snapshot, arcname=member, filter=_private)
            for name in manifest["files"]:
                archive.add(instance_dir / name.split("/", 1)[1], arcname=name, filter=_private)
            for folder in INSTANCE_FOLDERS:
                if (instance_dir / folder).is_dir():
                    archive.add(instance_dir / folder, arcname=f"instance/{folder}", filter=_private)
        os.chmod(partial, 0o600)
        os.replace(partial, out)  # never a half-written archive under the final name
    return manifest


def _private(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.mode = 0o700 if info.isdir() else 0o600
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _snapshot_engine(path: Path) -> Engine:
    from gridsvc.db import make_engine

    return make_engine(f"sqlite:///{path}")


def read_manifest(archive_path: Path) -> dict:
    """The manifest of an archive, or a clear refusal when the file is not a gridsvc backup."""
    try:
        with tarfile.open(archive_path, mode="r:gz") as archive:
            manifest = json.loads(archive.extractfile(MANIFEST).read())
    except (OSError, tarfile.TarError, KeyError, AttributeError, ValueError):
        raise ValidationError("backup_unreadable", "%(path)s is not a gridsvc backup archive", path=str(archive_path))
    if manifest.get("format") != FORMAT:
        raise ValidationError("backup_format", "Unknown backup format %(format)s", format=str(manifest.get("format")))
    return manifest


def is_empty(engine: Engine) -> bool:
    """True when no gridsvc table holds a row (or none exists yet)."""
    return not any(table_counts(engine).values())


def restore(engine: Engine, *, archive_path: Path, instance_dir: Path, force: bool = False, progress=None) -> dict:
    """Restore an archive into the engine's database and the instance folder; returns the restored row counts.

    Refuses a database that holds any row unless force; an SQLite archive restores into SQLite and a
    PostGIS one into PostGIS.
    """
    report = progress or (lambda stage: None)
    manifest = read_manifest(archive_path)
    backend = _backend(engine)
    if manifest["backend"] != backend:
        raise ValidationError("backup_backend", "This is a %(archive)s backup; the target database is %(target)s",
                              archive=manifest["backend"], target=backend)
    if not force and not is_empty(engine):
        raise ConflictError("restore_target_not_empty",
                            "The target database already holds data; restore into an empty one, or pass --force")
    with tempfile.TemporaryDirectory(prefix="gridsvc-restore-") as work:
        work_dir = Path(work)
        with tarfile.open(archive_path, mode="r:gz") as archive:
            archive.extractall(work_dir, filter="data")
        report("database")
        engine.dispose()
        if backend == "spatialite":
            _restore_sqlite(engine, work_dir / manifest["database"])
        else:
            _restore_postgres(engine, work_dir / manifest["database"], force=force)
        engine.dispose()
        report("files")
        for name in manifest["files"]:
            target = instance_dir / name.split("/", 1)[1]
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(work_dir / name, target)
            os.chmod(target, 0o600)
        for folder in INSTANCE_FOLDERS:
            if (work_dir / "instance" / folder).is_dir():
                shutil.copytree(work_dir / "instance" / folder, instance_dir / folder, dirs_exist_ok=True)
    counts = table_counts(engine)
    if counts != manifest["table_rows"]:
        raise RuntimeError(f"restored rows differ from the backup's: {counts} != {manifest['table_rows']}")
    return counts


def _restore_sqlite(engine: Engine, snapshot: Path) -> None:
    import pysqlite3.dbapi2 as sqlite

    source = sqlite.connect(str(snapshot))
    raw = engine.raw_connection()
    try:
        source.backup(raw.driver_connection, pages=-1)  # page by page into the target, WAL and all
    finally:
        raw.close()
        source.close()
    with engine.connect() as connection:
        problems = connection.exec_driver_sql("PRAGMA integrity_check").scalar()
        if problems != "ok":
            raise RuntimeError(f"restored SQLite database fails integrity_check: {problems}")


# A replacing restore waits this long for the old tables (app servers still connected), then gives
# up and changes nothing: stop the app servers first (docs/DEPLOY.md).
RESTORE_LOCK_TIMEOUT = "30s"


def _restore_postgres(engine: Engine, dump: Path, *, force: bool) -> None:
    if not force:
        _run(["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
              f"--dbname={libpq_url(engine)}", str(dump)], "pg_restore", engine)
        return
    # Replacing a database: pg_restore --clean drops each partition's inherited constraints one by
    # one, which PostgreSQL refuses (positions is partitioned). So the old tables are dropped whole
    # and the dump restored in one psql transaction: a failure leaves the old database as it was.
    with engine.connect() as connection:
        tables = list(connection.execute(sa.text(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition "
            "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')")).scalars())
        functions = list(connection.execute(sa.text(
            "SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' FROM pg_proc p "
            "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = current_schema() "
            "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')")).scalars())
    # The dump as SQL goes to a file beside it (never whole into memory: positions may be large).
    script, drop = dump.with_suffix(".sql"), dump.with_suffix(".drop.sql")
    _run(["pg_restore", "--no-owner", "--no-privileges", f"--file={script}", str(dump)], "pg_restore", engine)
    drop.write_text("SET client_min_messages = warning;\n"
                    f"SET lock_timeout = '{RESTORE_LOCK_TIMEOUT}';\n"
                    + "".join(f'DROP TABLE IF EXISTS "{name}" CASCADE;\n' for name in tables)
                    + "".join(f"DROP FUNCTION IF EXISTS {signature} CASCADE;\n" for signature in functions),
                    encoding="utf-8")
    try:
        _run(["psql", "--no-psqlrc", "--quiet", "--single-transaction", "--set=ON_ERROR_STOP=1",
              f"--dbname={libpq_url(engine)}", f"--file={drop}", f"--file={script}"], "psql restore", engine)
    finally:
        script.unlink(missing_ok=True)
        drop.unlink(missing_ok=True)
