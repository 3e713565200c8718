"""gridsvc: grid management and patrol tracking for a development zone's governance centre."""
from __future__ import annotations

import importlib
import secrets
from types import SimpleNamespace

from flask import Flask

from config import INSTANCE_DIR, load_config

# Domain packages; each one's `views.blueprint` (when it has views) is registered in this order.
DOMAINS = ("auth", "health", "audit", "grids", "people", "cameras", "patrols", "reports", "maps_web", "api")


def create_app(overrides: dict | None = None) -> Flask:
    """Application factory: settings from config.py, GRIDSVC_* variables, then `overrides`."""
    settings = load_config(overrides)
    app = Flask(__name__, instance_path=str(INSTANCE_DIR), instance_relative_config=False)
    app.config.update(settings)
    app.config["SECRET_KEY"] = settings.get("SECRET_KEY") or _instance_secret_key()
    app.json.ensure_ascii = False
    app.json.sort_keys = False

    from gridsvc.db import make_engine, make_sessionmaker

    engine = make_engine(app.config["DATABASE_URL"], spatialite_path=app.config["SPATIALITE_LIBRARY_PATH"],
                         lock_wait_seconds=app.config["SQLITE_LOCK_WAIT_SECONDS"])
    app.extensions["gridsvc"] = SimpleNamespace(engine=engine, sessions=make_sessionmaker(engine))

    from gridsvc import i18n, web

    i18n.init_app(app)
    web.init_app(app)

    for domain in DOMAINS:
        try:
            views = importlib.import_module(f"gridsvc.{domain}.views")
        except ModuleNotFoundError as missing:
            if missing.name not in (f"gridsvc.{domain}", f"gridsvc.{domain}.views"):
                raise
            continue
        app.register_blueprint(views.blueprint)

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
