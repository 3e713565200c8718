"""Database engine, declarative base and the few helpers that differ between SpatiaLite and PostGIS."""
from __future__ import annotations

import contextlib
import datetime as dt
import os
from typing import Iterator

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

SRID = 4326


class Base(DeclarativeBase):
    """Declarative base of every gridsvc model."""


class UTCDateTime(sa.types.TypeDecorator):
    """Store naive UTC on every backend, hand back aware UTC datetimes."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; gridsvc stores aware UTC datetimes only")
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=dt.timezone.utc)


def utcnow() -> dt.datetime:
    """Current time, aware UTC, to the second."""
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def is_sqlite(bind) -> bool:
    """True when the bind (engine, connection or session) talks to SQLite/SpatiaLite."""
    if isinstance(bind, Session):
        bind = bind.get_bind()
    return bind.dialect.name == "sqlite"


# How a SQLite transaction begins, chosen per connection by the execution option "sqlite_begin":
# reads begin DEFERRED (in WAL mode they never wait for a writer and never take the write lock);
# writes begin IMMEDIATE, taking the write lock at once and waiting up to the busy timeout for it
# (a deferred transaction that reads and then writes cannot upgrade once another writer committed:
# SQLITE_BUSY at once, field notes §7); IMMEDIATE_NOWAIT is a write that gives up at once when the
# lock is taken (for bookkeeping that may be skipped, such as a token's last-use stamp).
SQLITE_BEGIN = "sqlite_begin"
DEFERRED, IMMEDIATE, IMMEDIATE_NOWAIT = "deferred", "immediate", "immediate-nowait"


def _load_spatialite(dbapi_conn, _record, library_path: str, busy_timeout_ms: int) -> None:
    dbapi_conn.enable_load_extension(True)
    dbapi_conn.load_extension(library_path)
    dbapi_conn.enable_load_extension(False)
    cursor = dbapi_conn.cursor()
    # WAL + synchronous=FULL: a committed (acknowledged) write survives a killed process
    # or power loss, and readers do not block the writer.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    has_metadata = cursor.execute(
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name='spatial_ref_sys'"
    ).fetchone()
    if not has_metadata:
        # WGS84 mode: 18 ms instead of 27 s for every EPSG code (field notes §5).
        cursor.execute("SELECT InitSpatialMetaData(1, 'WGS84')")
    cursor.close()


def make_engine(url: str, *, spatialite_path: str = "mod_spatialite", echo: bool = False,
                lock_wait_seconds: float = 5.0) -> Engine:
    """Create an engine for a sqlite:// (SpatiaLite) or postgresql+psycopg:// (PostGIS) URL.

    On SQLite a write waits at most lock_wait_seconds for the write lock, then fails with
    "database is locked" (the web layer answers 503 with Retry-After).
    """
    if url.startswith("sqlite"):
        # The pyenv interpreter cannot load SQLite extensions; pysqlite3 bundles a SQLite that can.
        import pysqlite3.dbapi2 as sqlite_module

        path = sa.engine.make_url(url).database
        if path and path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        busy_timeout_ms = int(lock_wait_seconds * 1000)
        engine = sa.create_engine(
            url,
            module=sqlite_module,
            echo=echo,
            connect_args={"timeout": lock_wait_seconds, "isolation_level": None},
        )
        event.listen(engine, "connect", lambda c, r: _load_spatialite(c, r, spatialite_path, busy_timeout_ms))

        # pysqlite's own transaction handling defers BEGIN and breaks SAVEPOINTs; we issue BEGIN
        # ourselves, of the kind the connection's sqlite_begin option asks for (IMMEDIATE unless told).
        @event.listens_for(engine, "begin")
        def _begin(conn):
            mode = conn.get_execution_options().get(SQLITE_BEGIN, IMMEDIATE)
            if mode == DEFERRED:
                conn.exec_driver_sql("BEGIN")
            elif mode == IMMEDIATE_NOWAIT:
                conn.exec_driver_sql("PRAGMA busy_timeout=0")
                try:
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                finally:
                    conn.exec_driver_sql(f"PRAGMA busy_timeout={busy_timeout_ms}")
            else:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return sa.create_engine(url, echo=echo, pool_pre_ping=True)


def is_lock_contention(error: BaseException) -> bool:
    """True for SQLite's "database is locked" (SQLITE_BUSY): the write lock was not had in time."""
    if not isinstance(error, sa.exc.OperationalError):
        return False
    code = getattr(error.orig, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF == 5  # SQLITE_BUSY and its extended codes (BUSY_SNAPSHOT, ...)
    return "database is locked" in str(error.orig)


def begin_as(session: Session, mode: str) -> Session:
    """Make the session's next transaction begin as `mode` on SQLite (a no-op on PostgreSQL)."""
    session.connection(execution_options={SQLITE_BEGIN: mode})
    return session


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """A session factory whose objects stay readable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextlib.contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def geodesic_length(session: Session, geom_column):
    """SQL expression of a line's length in metres on the WGS-84 ellipsoid, on either backend."""
    if is_sqlite(session):
        return sa.func.ST_Length(geom_column, 1)
    return sa.func.ST_Length(sa.cast(geom_column, _geography()))


def geodesic_area(session: Session, geom_column):
    """SQL expression of a polygon's area in m² on the WGS-84 ellipsoid, on either backend."""
    if is_sqlite(session):
        return sa.func.ST_Area(geom_column, 1)
    return sa.func.ST_Area(sa.cast(geom_column, _geography()))


def _geography():
    from geoalchemy2 import Geography

    return Geography(srid=SRID)


def spatial_candidates(session: Session, table_name: str, geom_column_name: str, rowid_column, frame):
    """Filter using the spatial index: SpatiaLite needs its R*Tree asked explicitly (GeoAlchemy2 #520).

    On PostGIS the planner uses the GiST index for ST_Intersects/ST_Contains by itself, so this
    returns a plain bounding-box overlap test that the index serves.
    """
    if is_sqlite(session):
        index_rows = sa.text(
            "SELECT ROWID FROM SpatialIndex WHERE f_table_name = :table "
            "AND f_geometry_column = :column AND search_frame = ST_GeomFromText(:frame, 4326)"
        ).bindparams(table=table_name, column=geom_column_name, frame=frame)
        return rowid_column.in_(index_rows)
    return sa.literal_column(f"{table_name}.{geom_column_name}").op("&&")(
        sa.func.ST_GeomFromText(frame, SRID)
    )
