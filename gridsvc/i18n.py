"""Languages: Chinese by default, English on request (?lang=en, remembered in a cookie).

N_ marks a message for extraction in code that must not import Flask (services, exports); Flask
and Flask-Babel are imported only by the functions that install and pick the language.
"""
from __future__ import annotations


def N_(message: str) -> str:
    """Mark a message for extraction; it is translated later, where the language is known."""
    return message


def select_locale() -> str:
    """?lang=, then the lang cookie, then (for the API) Accept-Language, then the default (zh)."""
    from flask import current_app, request

    supported = current_app.config["LANGUAGES"]
    for candidate in (request.args.get("lang"), request.cookies.get("lang")):
        if candidate in supported:
            return candidate
    if request.path.startswith("/api/") and request.headers.get("Accept-Language"):
        return request.accept_languages.best_match(supported) or current_app.config["BABEL_DEFAULT_LOCALE"]
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def init_app(app) -> None:
    """Install Flask-Babel and remember an explicit ?lang= choice."""
    from flask import request
    from flask_babel import Babel

    Babel(app, locale_selector=select_locale, default_translation_directories="translations")

    @app.after_request
    def _remember_language(response):
        chosen = request.args.get("lang")
        if chosen in app.config["LANGUAGES"] and request.cookies.get("lang") != chosen:
            response.set_cookie("lang", chosen, max_age=365 * 24 * 3600, samesite="Lax", httponly=True)
        return response

    @app.context_processor
    def _language():
        from flask_babel import get_locale

        return {"current_language": str(get_locale())}
