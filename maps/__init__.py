"""Pure map building for gridsvc: GeoJSON dicts in, folium map / offline HTML out.

No database and no Flask here; the app serves maps.assets.asset_files() under a URL prefix.
"""

from maps.assets import asset_files, localize_assets, render_map_html
from maps.basemaps import resolve_base_map
from maps.builder import build_overview_map
from maps.labels import LABELS_EN, LABELS_ZH

__all__ = [
    "LABELS_EN",
    "LABELS_ZH",
    "asset_files",
    "build_overview_map",
    "localize_assets",
    "render_map_html",
    "resolve_base_map",
]
