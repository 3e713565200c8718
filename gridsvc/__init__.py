"""gridsvc: grid management and patrol tracking for a development zone's governance centre."""
from __future__ import annotations

import secrets
from types import SimpleNamespace

from flask import Flask

from config import INSTANCE_DIR, load_config


def create_app(overrides: dict | None = None) -> Flask:
    """Application factory: settings from config.py, GRIDSVC_* variables, then `overrides`."""
    settings = load_config(overrides)
    app = Flask(__name__, instance_path=str(INSTANCE_DIR), instance_relative_config=False)
    app.config.update(settings)
    app.config["SECRET_KEY"] = settings.get("SECRET_KEY") or _instance_secret_key()
    app.json.ensure_ascii = False
    app.json.sort_keys = False

    from gridsvc.db import make_engine, make_sessionmaker

    engine = make_engine(app.config["DATABASE_URL"], spatialite_path=app.config["SPATIALITE_LIBRARY_PATH"])
    app.extensions["gridsvc"] = SimpleNamespace(engine=engine, sessions=make_sessionmaker(engine))

    from gridsvc import i18n, web

    i18n.init_app(app)
    web.init_app(app)

    from gridsvc.cameras.views import blueprint as cameras_blueprint
    from gridsvc.grids.views import blueprint as grids_blueprint
    from gridsvc.reports.views import blueprint as reports_blueprint

    for blueprint in (grids_blueprint, cameras_blueprint, reports_blueprint):
        app.register_blueprint(blueprint)

    from gridsvc.cli import register_cli

    register_cli(app)
    return app


def _instance_secret_key() -> str:
    """A random key kept in instance/secret_key so sessions survive restarts."""
    path = INSTANCE_DIR / "secret_key"
    if not path.exists():
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()
