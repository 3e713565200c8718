"""/map: the overview page, the folium frame it embeds, and the vendor JS/CSS served locally."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request, send_file
from flask_babel import get_locale

from gridsvc.access import public, require_roles
from gridsvc.auth.web import allows_inline_scripts
from gridsvc.errors import ValidationError
from gridsvc.grids.service import list_grids
from gridsvc.maps_web.service import overview_features
from gridsvc.web import db, period_from_request
from maps import LABELS_EN, LABELS_ZH, asset_files, build_overview_map, render_map_html

blueprint = Blueprint("maps_web", __name__)
VENDOR_PREFIX = "/static/vendor/"


def _filters() -> dict:
    kind = request.args.get("kind", "group")
    if kind not in ("group", "individual"):
        raise ValidationError("map_kind", "Kind must be group or individual; got %(kind)s", kind=kind[:20])
    return {"period": period_from_request(), "kind": kind, "station": request.args.get("station") or None}


def overview_map_html(session, *, period, kind, station, inline: bool, language: str = "zh") -> str:
    """The overview map as a complete HTML page (assets linked locally, or inlined for export)."""
    features = overview_features(
        session, period=period, kind=kind, station_code=station,
        quota_hours_per_year=current_app.config["QUOTA_HOURS_PER_YEAR"], tz=current_app.config["DISPLAY_TIMEZONE"],
    )
    labels = LABELS_ZH if language == "zh" else LABELS_EN
    folium_map = build_overview_map(base_map=current_app.config["BASE_MAP"], labels=labels, **features)
    return render_map_html(folium_map, asset_url_prefix=VENDOR_PREFIX, inline=inline)


# The map shows every station's figures, cameras and tracks: zone-wide roles only.
MAP_ROLES = ("centre_viewer", "manager")


@blueprint.get("/map")
@require_roles(*MAP_ROLES)
@allows_inline_scripts
def overview_page():
    """The map page: filters and the embedded map."""
    filters = _filters()
    return render_template("maps/overview.html", filters=filters, stations=list_grids(db(), level="station"),
                           frame_query=request.query_string.decode("ascii", "replace"))


@blueprint.get("/map/frame")
@require_roles(*MAP_ROLES)
@allows_inline_scripts
def overview_frame():
    """The folium map itself, as its own document (embedded by /map, usable alone)."""
    filters = _filters()
    return overview_map_html(db(), period=filters["period"], kind=filters["kind"], station=filters["station"],
                             inline=False, language=str(get_locale()))


@blueprint.app_template_global("leaflet_asset")
def leaflet_asset(file_name: str) -> str:
    """The local URL of Leaflet's leaflet.js or leaflet.css, for pages that draw their own small map."""
    return VENDOR_PREFIX + next(name for name in asset_files() if name.startswith("leaflet-")
                                and name.endswith("/" + file_name))


@blueprint.get(VENDOR_PREFIX + "<path:name>")
@public
def vendor_asset(name: str):
    """Leaflet, markercluster, jQuery and gridsvc's map JS/CSS, from installed packages."""
    path = asset_files().get(name)
    if path is None:
        abort(404)
    return send_file(path, max_age=7 * 24 * 3600)
