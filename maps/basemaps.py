"""Base-map configuration -> tile layers, and which datum the data must be drawn in.

Config dicts (from the app's settings):
    {"kind": "none"}                                   no tiles (default; intranet without a tile server)
    {"kind": "xyz", "url": ..., "attribution": ...}    any XYZ server, e.g. an intranet mirror;
                                                       optional "subdomains", "max_zoom", "datum"
    {"kind": "tianditu", "key": ...}                   天地图 vector + labels (WGS-84);
                                                       optional "style": "vector" | "imagery"
    {"kind": "gaode"}                                  高德 tiles, GCJ-02; optional "url", "subdomains"
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import Any, Mapping

import folium

from maps.elements import html_text

WGS84 = "wgs84"
GCJ02 = "gcj02"
DEFAULT_MAX_ZOOM = 18

TIANDITU_URL_TEMPLATE = "https://t{{s}}.tianditu.gov.cn/DataServer?T={layer}&x={{x}}&y={{y}}&l={{z}}&tk={key}"
TIANDITU_SUBDOMAINS = "01234567"
TIANDITU_LAYERS = {"vector": ("vec_w", "cva_w"), "imagery": ("img_w", "cia_w")}
GAODE_DEFAULT_URL = (
    "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}"
)
GAODE_SUBDOMAINS = "1234"

_ALLOWED_KEYS = {
    "none": {"kind"},
    "xyz": {"kind", "url", "attribution", "subdomains", "max_zoom", "datum", "name"},
    "tianditu": {"kind", "key", "style"},
    "gaode": {"kind", "url", "subdomains", "attribution"},
}


@dataclass(frozen=True)
class TileSource:
    """One XYZ tile layer: URL template, plain-text attribution, zoom limit, layer-control name."""

    url: str
    attribution: str
    name: str
    max_zoom: int = DEFAULT_MAX_ZOOM
    subdomains: str | None = None
    overlay: bool = False


@dataclass(frozen=True)
class BaseMap:
    """A resolved base map: its tile layers and the datum those tiles are drawn in."""

    kind: str
    datum: str
    tiles: tuple[TileSource, ...]

    @property
    def needs_gcj02(self) -> bool:
        """True if data (stored in WGS-84) must be shifted to GCJ-02 to line up with the tiles."""
        return self.datum == GCJ02

    @property
    def max_zoom(self) -> int:
        """Highest zoom the map should allow: the tiles' limit, or the default with no tiles."""
        return max((tile.max_zoom for tile in self.tiles), default=DEFAULT_MAX_ZOOM)


def _required_str(config: Mapping[str, Any], key: str) -> str:
    value = config.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"base map kind {config['kind']!r} needs a non-empty string {key!r}")
    return value.strip()


def _checked_tile_url(url: str) -> str:
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https", "") or (parsed.scheme == "" and not url.startswith("/")):
        raise ValueError(f"tile URL must be http(s):// or a path on this host, not {url!r}")
    if not all(placeholder in url for placeholder in ("{x}", "{y}", "{z}")):
        raise ValueError(f"tile URL needs {{x}}, {{y}} and {{z}} placeholders: {url!r}")
    # folium's TileLayer script goes through Jinja once more (see maps.elements): no delimiters.
    if any(delimiter in url for delimiter in ("{{", "{%", "{#")):
        raise ValueError(f"tile URL must not contain '{{{{', '{{%' or '{{#': {url!r}")
    return url


def resolve_base_map(config: Mapping[str, Any] | None) -> BaseMap:
    """Validate a base-map config dict (None means no tiles) and return its tile layers."""
    config = dict(config or {"kind": "none"})
    kind = config.get("kind", "none")
    if kind not in _ALLOWED_KEYS:
        raise ValueError(f"unknown base map kind {kind!r}; expected one of {sorted(_ALLOWED_KEYS)}")
    config["kind"] = kind
    unexpected = sorted(set(config) - _ALLOWED_KEYS[kind])
    if unexpected:
        raise ValueError(f"base map kind {kind!r} does not take {', '.join(unexpected)}")

    if kind == "none":
        return BaseMap(kind=kind, datum=WGS84, tiles=())

    if kind == "xyz":
        datum = config.get("datum", WGS84)
        if datum not in (WGS84, GCJ02):
            raise ValueError(f"xyz datum must be {WGS84!r} or {GCJ02!r}, not {datum!r}")
        max_zoom = config.get("max_zoom", DEFAULT_MAX_ZOOM)
        if isinstance(max_zoom, bool) or not isinstance(max_zoom, int) or not 1 <= max_zoom <= 22:
            raise ValueError(f"xyz max_zoom must be an int in 1..22, not {max_zoom!r}")
        tile = TileSource(
            url=_checked_tile_url(_required_str(config, "url")),
            attribution=_required_str(config, "attribution"),
            name=config.get("name") or "XYZ",
            max_zoom=max_zoom,
            subdomains=config.get("subdomains"),
        )
        return BaseMap(kind=kind, datum=datum, tiles=(tile,))

    if kind == "tianditu":
        key = urllib.parse.quote(_required_str(config, "key"), safe="")
        style = config.get("style", "vector")
        if style not in TIANDITU_LAYERS:
            raise ValueError(f"tianditu style must be one of {sorted(TIANDITU_LAYERS)}, not {style!r}")
        base_layer, label_layer = TIANDITU_LAYERS[style]
        attribution = "© 天地图 Tianditu"
        tiles = (
            TileSource(
                url=TIANDITU_URL_TEMPLATE.format(layer=base_layer, key=key),
                attribution=attribution,
                name=f"天地图 {base_layer}",
                subdomains=TIANDITU_SUBDOMAINS,
            ),
            TileSource(
                url=TIANDITU_URL_TEMPLATE.format(layer=label_layer, key=key),
                attribution=attribution,
                name=f"天地图 {label_layer}",
                subdomains=TIANDITU_SUBDOMAINS,
                overlay=True,
            ),
        )
        return BaseMap(kind=kind, datum=WGS84, tiles=tiles)

    # gaode
    tile = TileSource(
        url=_checked_tile_url(config.get("url") or GAODE_DEFAULT_URL),
        attribution=config.get("attribution") or "© 高德地图 AutoNavi",
        name="高德 Gaode",
        subdomains=config.get("subdomains", GAODE_SUBDOMAINS),
    )
    return BaseMap(kind="gaode", datum=GCJ02, tiles=(tile,))


def tile_layers(base_map: BaseMap) -> list[folium.TileLayer]:
    """Return folium tile layers for a resolved base map (empty for kind 'none')."""
    layers = []
    for tile in base_map.tiles:
        options: dict[str, Any] = {}
        if tile.subdomains:
            options["subdomains"] = tile.subdomains
        layers.append(
            folium.TileLayer(
                tiles=tile.url,
                # Leaflet shows attribution and layer names as HTML: config text stays text.
                attr=html_text(tile.attribution),
                name=html_text(tile.name),
                max_zoom=tile.max_zoom,
                overlay=tile.overlay,
                control=True,
                **options,
            )
        )
    return layers


def tile_hosts(base_map_config) -> list[str]:
    """CSP sources of the configured base map's tiles (scheme and host, subdomains as a wildcard)."""
    if not base_map_config or base_map_config.get("kind", "none") == "none":
        return []
    try:
        urls = [tile.url for tile in resolve_base_map(base_map_config).tiles]
    except Exception:  # a broken base-map config fails on the map page, not on every response
        return []
    sources = []
    for url in urls:
        parts = urllib.parse.urlsplit(url.replace("{s}", "SUBDOMAIN"))
        host = parts.hostname or ""
        if "subdomain" in host:
            host = "*." + host.split(".", 1)[1]
        source = f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")
        if source not in sources:
            sources.append(source)
    return sources
