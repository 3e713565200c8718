"""Fixtures: every database test runs on SpatiaLite and on PostGIS, against real databases.

Each backend gets a fresh database, migrated with Alembic and seeded with the 2020 data once per
run. Each test then works inside an outer transaction that is rolled back afterwards; the app's
own commits become savepoints, so tests see real commits without disturbing each other.
"""
from __future__ import annotations

import contextlib
import os
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from gridsvc import create_app
from gridsvc.db import make_engine

BACKENDS = ("spatialite", "postgis")
POSTGRES_ADMIN_URL = os.environ.get(
    "GRIDSVC_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REGION_CODE = "350600"
# The demo accounts' password in the tests: random per run, as `flask seed --demo` makes one.
DEMO_PASSWORD = "demo-" + uuid.uuid4().hex


def postgis_required() -> bool:
    """CI (or GRIDSVC_REQUIRE_POSTGIS=1) fails instead of skipping when PostGIS is unreachable."""
    return os.environ.get("CI") == "true" or os.environ.get("GRIDSVC_REQUIRE_POSTGIS") == "1"


def _create_postgis_database() -> str:
    name = f"gridsvc_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except Exception as exc:
        admin.dispose()
        message = f"PostGIS unreachable at {POSTGRES_ADMIN_URL}: {exc}"
        if postgis_required():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    admin.dispose()
    url = sa.engine.make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS postgis")
    engine.dispose()
    return url


def _drop_postgis_database(url: str) -> None:
    name = sa.engine.make_url(url).database
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request) -> str:
    """The database backend under test: spatialite or postgis."""
    return request.param


def make_database(backend: str, tmp_path_factory) -> str:
    """A new empty database URL of the backend (PostGIS: a scratch database, dropped at the end)."""
    if backend == "spatialite":
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'gridsvc.sqlite'}"
    return _create_postgis_database()


def migrate(app) -> None:
    """Bring the app's database to the newest Alembic revision."""
    from alembic import command

    from gridsvc.cli import alembic_config

    with app.app_context():
        command.upgrade(alembic_config(), "head")


@pytest.fixture(scope="session")
def seeded_app(backend, tmp_path_factory):
    """An app on a migrated database of the backend, seeded with the 2020 dataset (once per run)."""
    from gridsvc.db import session_scope
    from seed.loader import load_seed

    url = make_database(backend, tmp_path_factory)
    app = create_app({"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "test", "REGION_CODE": REGION_CODE})
    migrate(app)
    from seed.loader import load_demo_accounts

    with session_scope(app.extensions["gridsvc"].sessions) as session:
        load_seed(session, region_code=REGION_CODE)
        load_demo_accounts(session, password=DEMO_PASSWORD)
    app.config["BACKEND"] = backend
    yield app
    app.extensions["gridsvc"].engine.dispose()
    if backend == "postgis":
        _drop_postgis_database(url)


@contextlib.contextmanager
def rolled_back(application):
    """The app with its sessions inside one outer transaction that is rolled back at the end."""
    engine = application.extensions["gridsvc"].engine
    real_sessions = application.extensions["gridsvc"].sessions
    connection = engine.connect()
    outer = connection.begin()
    application.extensions["gridsvc"].sessions = sessionmaker(
        bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )
    try:
        yield application
    finally:
        application.extensions["gridsvc"].sessions = real_sessions
        outer.rollback()
        connection.close()


@pytest.fixture
def app(seeded_app):
    """The seeded app, with everything a test writes rolled back afterwards."""
    with rolled_back(seeded_app) as application:
        yield application


@pytest.fixture
def session(app):
    """A database session inside the test's rolled-back transaction."""
    db_session = app.extensions["gridsvc"].sessions()
    yield db_session
    db_session.close()


def sign_in(app, test_client, username: str):
    """Sign a test client in as a seeded account: a real server-side web session, no password round trip.

    (The password path itself is tested in tests/auth; Argon2 costs ~0.3 s a verification.)
    """
    from flask_login.utils import _create_identifier

    from gridsvc.auth import service as auth_service
    from gridsvc.db import session_scope

    with session_scope(app.extensions["gridsvc"].sessions) as db_session:
        user = auth_service.get_user(db_session, username=username)
        principal = auth_service.start_session(db_session, user=user, ip="127.0.0.1", user_agent="pytest")
    with app.test_request_context(environ_base=test_client.environ_base):
        identifier = _create_identifier()
    with test_client.session_transaction() as cookie_session:
        cookie_session.update({"_user_id": principal.session_id, "_fresh": True, "_id": identifier})
    return test_client


@pytest.fixture
def csrf_off(app):
    """CSRF checks off for this test (restored afterwards); the CSRF tests themselves keep them on."""
    previous = app.config.get("WTF_CSRF_ENABLED", True)
    app.config["WTF_CSRF_ENABLED"] = False
    yield
    app.config["WTF_CSRF_ENABLED"] = previous


@pytest.fixture
def client(app, csrf_off):
    """A Flask test client on the seeded app, signed in as the seeded admin (fully privileged, no CSRF token needed)."""
    return sign_in(app, app.test_client(), "admin")


@pytest.fixture
def client_as(app, csrf_off):
    """client_as(username): a new test client signed in as that seeded account (CSRF checks off)."""
    return lambda username: sign_in(app, app.test_client(), username)


@pytest.fixture
def token_for(app):
    """token_for(username): a new bearer token of that seeded account (inside the test's transaction)."""
    from gridsvc.auth import service as auth_service
    from gridsvc.db import session_scope

    def issue(username: str) -> str:
        with session_scope(app.extensions["gridsvc"].sessions) as db_session:
            _token, secret = auth_service.issue_token(
                db_session, user=auth_service.get_user(db_session, username=username), name="pytest")
        return secret
    return issue


@pytest.fixture
def empty_app(backend, tmp_path_factory):
    """An app on a new migrated database with no data (for tests that need empty tables)."""
    url = make_database(backend, tmp_path_factory)
    application = create_app({"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "test", "REGION_CODE": REGION_CODE})
    migrate(application)
    yield application
    application.extensions["gridsvc"].engine.dispose()
    if backend == "postgis":
        _drop_postgis_database(url)


def engine_for(url: str):
    """An engine on a test database URL (SpatiaLite loaded where needed)."""
    return make_engine(url)


@pytest.fixture
def live_seeded_server(seeded_app, tmp_path):
    """A real server (python -m gridsvc.server) on a copy of the seeded SpatiaLite database, as `make run` sets up.

    On PostGIS the same pages are checked through the test client; the browser journeys run on the copy.
    """
    import pysqlite3.dbapi2 as sqlite

    from tests.maps.browser import require_chromium
    from tests.reliability.live_server import LiveServer

    require_chromium()
    if seeded_app.config["BACKEND"] != "spatialite":
        pytest.skip("the live server runs on a file copy of the seeded SpatiaLite database; "
                    "on PostGIS the same pages are checked through the test client")
    copy = tmp_path / "gridsvc.sqlite"
    source = sqlite.connect(sa.engine.make_url(seeded_app.config["DATABASE_URL"]).database)
    target = sqlite.connect(copy)
    source.backup(target)  # a consistent copy even while the seeded database is open
    source.close()
    target.close()
    server = LiveServer(f"sqlite:///{copy}", log_path=tmp_path / "server.log")
    server.start()
    yield server
    server.stop()
