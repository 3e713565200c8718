"""gridsvc: grid management and patrol tracking for a development zone's governance centre."""
from __future__ import annotations

import functools
import secrets
from types import SimpleNamespace

from flask import Flask

from config import INSTANCE_DIR, load_config


def create_app(overrides: dict | None = None) -> Flask:
    """Application factory: settings from config.py, GRIDSVC_* variables, then `overrides`.

    Every part wires itself in with one visible call, in order: the database and the audit trail,
    i18n, request plumbing, sign-in and access, then each domain's blueprint, the CLI and the proxy
    middleware. docs/ARCHITECTURE.md draws the layers.
    """
    settings = load_config(overrides)
    app = Flask(__name__, instance_path=str(INSTANCE_DIR), instance_relative_config=False)
    app.config.update(settings)
    app.config["SECRET_KEY"] = settings.get("SECRET_KEY") or _instance_secret_key()
    app.json.ensure_ascii = False
    app.json.sort_keys = False

    from gridsvc import i18n, web
    from gridsvc.audit import listener as audit_listener
    from gridsvc.auth import web as auth_web
    from gridsvc.db import make_engine, make_sessionmaker
    from maps.basemaps import tile_hosts

    engine = make_engine(app.config["DATABASE_URL"], spatialite_path=app.config["SPATIALITE_LIBRARY_PATH"],
                         lock_wait_seconds=app.config["SQLITE_LOCK_WAIT_SECONDS"])
    app.extensions["gridsvc"] = SimpleNamespace(engine=engine, sessions=make_sessionmaker(engine))
    audit_listener.install()  # before any session exists: no write goes unrecorded
    i18n.init_app(app)
    web.init_app(app)
    # Sign-in, default-deny access, CSRF, security headers: before every view. The map package
    # names the base map's tile hosts for the CSP.
    auth_web.install(app, image_sources=tile_hosts(app.config["BASE_MAP"]))

    from gridsvc.api import views as api_views
    from gridsvc.audit import views as audit_views
    from gridsvc.auth import views as auth_views
    from gridsvc.cameras import views as camera_views
    from gridsvc.grids import views as grid_views
    from gridsvc.health import views as health_views
    from gridsvc.home import views as home_views
    from gridsvc.live import views as live_views
    from gridsvc.maps_web import views as map_views
    from gridsvc.patrols import views as patrol_views
    from gridsvc.positions import pages as position_pages
    from gridsvc.positions import read_views as position_read_views
    from gridsvc.positions import views as position_views
    from gridsvc.reports import views as report_views

    for views in (auth_views, health_views, home_views, audit_views, grid_views, camera_views, patrol_views,
                  position_views, position_read_views, position_pages, report_views, live_views, map_views, api_views):
        app.register_blueprint(views.blueprint)

    # A patroller is on duty for the position intake (a lower layer) also while signed up for a
    # group task under way, or while a patrol session of theirs is running (started, not yet
    # stopped; or stopped, for the points a phone sends late): the patrol domain says so through
    # this one hook. Likewise the retention: a session's points are kept POSITION_RETENTION_DAYS
    # after it is final.
    from gridsvc.patrols.from_points import on_explicit_session
    from gridsvc.patrols.service import on_task_duty, position_holds

    app.extensions["gridsvc_duty_checks"] = (
        on_task_duty, functools.partial(on_explicit_session, max_hours=float(app.config["MAX_SESSION_HOURS"])))
    app.extensions["gridsvc_position_holds"] = (position_holds,)
    # The patrols page shows a volunteer's target and completion as the reports (a higher layer) compute them.
    from gridsvc.reports.service import patroller_target

    app.extensions["gridsvc_patroller_year_target"] = lambda session, **which: patroller_target(
        session, quota_hours_per_year=app.config["QUOTA_HOURS_PER_YEAR"], **which)

    from gridsvc.cli import register_cli
    from gridsvc.proxies import TrustedProxies

    register_cli(app)
    app.wsgi_app = TrustedProxies(app.wsgi_app, app.config)
    return app


def _instance_secret_key() -> str:
    """A random key kept in instance/secret_key so sessions survive restarts."""
    path = INSTANCE_DIR / "secret_key"
    if not path.exists():
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()
