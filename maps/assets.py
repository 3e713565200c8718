"""Offline JS/CSS for folium maps: CDN URLs mapped to files shipped by installed packages.

Government and police intranets have no Internet, so no page may load anything from a CDN.
folium 0.20 names its CDN URLs in the class attributes ``default_js``/``default_css``; this module
rewrites them per map instance (never the shared class attributes), either to a URL prefix that
the Flask app serves from :func:`asset_files`, or inline into one self-contained HTML file.
"""

from __future__ import annotations

import base64
import functools
import mimetypes
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import branca.element
import folium
import xstatic.pkg.font_awesome
import xstatic.pkg.jquery
import xstatic.pkg.leaflet
import xstatic.pkg.leaflet_markercluster

DEFAULT_ASSET_URL_PREFIX = "/static/vendor/"

# Pseudo-URL scheme for gridsvc's own files in maps/static; resolved like any CDN URL.
OWN_ASSET_SCHEME = "gridsvc-asset:"
# Placeholder scheme used only while rendering an inline page, replaced before returning.
_INLINE_PLACEHOLDER_SCHEME = "gridsvc-inline:"

_LEAFLET_DIR = Path(xstatic.pkg.leaflet.BASE_DIR)
_MARKERCLUSTER_DIR = Path(xstatic.pkg.leaflet_markercluster.BASE_DIR)
_JQUERY_DIR = Path(xstatic.pkg.jquery.BASE_DIR)
_FONT_AWESOME_DIR = Path(xstatic.pkg.font_awesome.BASE_DIR)
_FOLIUM_TEMPLATES_DIR = Path(folium.__file__).parent / "templates"
_OWN_STATIC_DIR = Path(__file__).parent / "static"

# Directory names carry the upstream version so a served URL can be cached for long.
_LEAFLET = f"leaflet-{xstatic.pkg.leaflet.VERSION}"
_MARKERCLUSTER = f"leaflet.markercluster-{xstatic.pkg.leaflet_markercluster.VERSION}"
_JQUERY = f"jquery-{xstatic.pkg.jquery.VERSION}"
_FONT_AWESOME = f"font-awesome-{xstatic.pkg.font_awesome.VERSION}"
_LEAFLET_HEAT = "leaflet-heat-folium-0.20"
_OWN = "gridsvc"


def _files_under(name_prefix: str, directory: Path, pattern: str) -> dict[str, Path]:
    return {
        f"{name_prefix}/{path.relative_to(directory).as_posix()}": path
        for path in sorted(directory.glob(pattern))
        if path.is_file()
    }


@functools.lru_cache(maxsize=1)
def _asset_table() -> dict[str, Path]:
    table: dict[str, Path] = {
        f"{_LEAFLET}/leaflet.js": _LEAFLET_DIR / "leaflet.js",
        f"{_LEAFLET}/leaflet.css": _LEAFLET_DIR / "leaflet.css",
        f"{_MARKERCLUSTER}/leaflet.markercluster.js": _MARKERCLUSTER_DIR / "leaflet.markercluster.js",
        f"{_MARKERCLUSTER}/MarkerCluster.css": _MARKERCLUSTER_DIR / "MarkerCluster.css",
        f"{_MARKERCLUSTER}/MarkerCluster.Default.css": _MARKERCLUSTER_DIR / "MarkerCluster.Default.css",
        f"{_JQUERY}/jquery.min.js": _JQUERY_DIR / "jquery.min.js",
        f"{_FONT_AWESOME}/css/all.min.css": _FONT_AWESOME_DIR / "css" / "all.min.css",
        f"{_LEAFLET_HEAT}/leaflet_heat.min.js": _FOLIUM_TEMPLATES_DIR / "leaflet_heat.min.js",
    }
    # Files that the CSS above references relatively (url(images/...), url(../webfonts/...)).
    table.update(_files_under(_LEAFLET, _LEAFLET_DIR, "images/*.png"))
    table.update(_files_under(_FONT_AWESOME, _FONT_AWESOME_DIR, "webfonts/*"))
    table.update(_files_under(_OWN, _OWN_STATIC_DIR, "*"))
    return table


# The files folium 0.20 links for the classes gridsvc renders (folium.Map, MarkerCluster,
# FastMarkerCluster, HeatMap), keyed by the last part of folium's own URL (the URLs themselves stay
# in folium: nothing here names an outside host), mapped to a local asset name, or to None when the
# file is deliberately left out: no wheel ships it and gridsvc's maps don't use it (no Bootstrap
# widgets, no awesome-markers icons: cameras are CircleMarkers; fullscreen is gridsvc's own JS).
FILE_NAME_TO_ASSET: dict[str, str | None] = {
    "leaflet.js": f"{_LEAFLET}/leaflet.js",
    "leaflet.css": f"{_LEAFLET}/leaflet.css",
    "jquery-3.7.1.min.js": f"{_JQUERY}/jquery.min.js",
    "jquery.min.js": f"{_JQUERY}/jquery.min.js",
    "all.min.css": f"{_FONT_AWESOME}/css/all.min.css",
    "leaflet.markercluster.js": f"{_MARKERCLUSTER}/leaflet.markercluster.js",
    "MarkerCluster.css": f"{_MARKERCLUSTER}/MarkerCluster.css",
    "MarkerCluster.Default.css": f"{_MARKERCLUSTER}/MarkerCluster.Default.css",
    "leaflet_heat.min.js": f"{_LEAFLET_HEAT}/leaflet_heat.min.js",
    # Left out on purpose (see above).
    "bootstrap.bundle.min.js": None,
    "bootstrap.min.css": None,
    "bootstrap-glyphicons.css": None,
    "leaflet.awesome-markers.js": None,
    "leaflet.awesome-markers.css": None,
    "leaflet.awesome.rotate.min.css": None,
}


def _file_name(url: str) -> str:
    return url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


# Assets a standalone file leaves out: Font Awesome's CSS would need ~1 MB of embedded fonts
# and gridsvc's maps draw no icon with it.
_OMITTED_WHEN_INLINE = frozenset({f"{_FONT_AWESOME}/css/all.min.css"})


class UnmappedAssetError(ValueError):
    """A folium element references an external URL that has no local copy."""


def asset_files() -> dict[str, str]:
    """Return every servable asset as {url-path name: absolute file path}."""
    return {name: str(path) for name, path in _asset_table().items()}


def asset_name_for_url(url: str) -> str | None:
    """Return the local asset name for a CDN or gridsvc pseudo-URL, None if deliberately dropped."""
    if url.startswith(OWN_ASSET_SCHEME):
        name = url[len(OWN_ASSET_SCHEME):]
    elif url.startswith(("http://", "https://")) and _file_name(url) in FILE_NAME_TO_ASSET:
        name = FILE_NAME_TO_ASSET[_file_name(url)]
        if name is None:
            return None
    else:
        raise UnmappedAssetError(
            f"no local copy of {url!r}: add its file to maps.assets.FILE_NAME_TO_ASSET or avoid the plugin"
        )
    if name not in _asset_table():
        raise UnmappedAssetError(f"asset {name!r} (for {url!r}) is not installed")
    return name


# ---------------------------------------------------------------------------------------------
# Per-instance rewriting


@dataclass(frozen=True)
class _SourceLinks:
    js: tuple[tuple[str, str], ...]
    css: tuple[tuple[str, str], ...]


_SOURCE_LINKS_ATTRIBUTE = "_gridsvc_source_links"


def _walk(element: branca.element.Element) -> Iterator[branca.element.Element]:
    yield element
    for child in list(element._children.values()):
        yield from _walk(child)


def _linking_elements(root: branca.element.Element) -> Iterator[branca.element.Element]:
    for element in _walk(root):
        if isinstance(element, folium.elements.JSCSSMixin):
            yield element


def _source_links(element: folium.elements.JSCSSMixin) -> _SourceLinks:
    # Remember the element's original (CDN) links the first time, so that localizing again with
    # another prefix or mode starts from the same input: the rewrite is idempotent.
    stored = vars(element).get(_SOURCE_LINKS_ATTRIBUTE)
    if stored is None:
        stored = _SourceLinks(js=tuple(element.default_js), css=tuple(element.default_css))
        setattr(element, _SOURCE_LINKS_ATTRIBUTE, stored)
    return stored


def _resolve(links: tuple[tuple[str, str], ...], url_for_name, omitted: frozenset[str]):
    resolved = []
    for link_name, url in links:
        asset_name = asset_name_for_url(url)
        if asset_name is None or asset_name in omitted:
            continue
        resolved.append((link_name, url_for_name(asset_name)))
    return resolved


def _rewrite_links(root: folium.Map, url_for_name, omitted: frozenset[str] = frozenset()) -> None:
    header = root.get_root().header
    for element in _linking_elements(root):
        source = _source_links(element)
        # A previous render left <script>/<link> children keyed by link name in the shared
        # header; drop them so a dropped or re-pointed asset can't linger.
        for link_name, _ in source.js + source.css:
            header._children.pop(link_name, None)
        # Instance attributes shadow folium's class attributes: other maps are unaffected.
        element.default_js = _resolve(source.js, url_for_name, omitted)
        element.default_css = _resolve(source.css, url_for_name, omitted)


def _normalized_prefix(url_prefix: str) -> str:
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", url_prefix) or url_prefix.startswith("//"):
        raise ValueError("url_prefix must be a path on the app's own host, e.g. '/static/vendor/'")
    return url_prefix if url_prefix.endswith("/") else url_prefix + "/"


def localize_assets(m: folium.Map, url_prefix: str = DEFAULT_ASSET_URL_PREFIX) -> folium.Map:
    """Point this map's (and its children's) JS/CSS links at url_prefix + asset name; returns m."""
    prefix = _normalized_prefix(url_prefix)
    _rewrite_links(m, lambda name: prefix + name)
    return m


def render_map_html(
    m: folium.Map, *, asset_url_prefix: str = DEFAULT_ASSET_URL_PREFIX, inline: bool = False
) -> str:
    """Render m to a complete HTML page: assets linked under asset_url_prefix, or embedded if inline."""
    if not inline:
        localize_assets(m, asset_url_prefix)
        return m.get_root().render()
    _rewrite_links(m, lambda name: _INLINE_PLACEHOLDER_SCHEME + name, omitted=_OMITTED_WHEN_INLINE)
    return _embed_placeholders(m.get_root().render())


# ---------------------------------------------------------------------------------------------
# Inline embedding

# Matches exactly what branca renders for JavascriptLink / CssLink with a placeholder URL. User
# data can't forge it: it is embedded as JSON with <, > and " escaped.
_LINK_PLACEHOLDER = re.compile(
    r'<script src="' + re.escape(_INLINE_PLACEHOLDER_SCHEME) + r'(?P<script>[^"]+)"></script>'
    r'|<link rel="stylesheet" href="' + re.escape(_INLINE_PLACEHOLDER_SCHEME) + r'(?P<style>[^"]+)"/>'
)
_CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")]+)\1\s*\)""")


def _read_text(name: str) -> str:
    return _asset_table()[name].read_text(encoding="utf-8")


def _data_uri(path: Path) -> str:
    mime_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{mime_type};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def _css_with_embedded_urls(css_name: str) -> str:
    css_dir = css_name.rsplit("/", 1)[0]

    def embed(match: re.Match) -> str:
        target = match.group(2)
        if target.startswith(("data:", "#")):  # already inline, or an IE VML behaviour
            return match.group(0)
        referenced = _posix_join(css_dir, target.split("?", 1)[0].split("#", 1)[0])
        if referenced not in _asset_table():
            raise UnmappedAssetError(f"{css_name} references {target!r}, which is not installed")
        return f'url("{_data_uri(_asset_table()[referenced])}")'

    return _CSS_URL.sub(embed, _read_text(css_name))


def _posix_join(directory: str, relative: str) -> str:
    parts = directory.split("/")
    for part in relative.split("/"):
        if part == "..":
            parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return "/".join(parts)


def _script_safe(js: str) -> str:
    # Inside <script>, the HTML parser ends the element at "</script" and changes state at "<!--",
    # wherever they occur in the JS; "<\/" and "<\!" mean the same to JS in strings and regexps.
    return re.sub(r"</(script)", r"<\\/\1", js, flags=re.IGNORECASE).replace("<!--", "<\\!--")


def _default_icon_fix() -> str:
    # Leaflet finds its default marker images through leaflet.css's URL; inlined, that URL is a
    # data: URI it can't take apart, and it would ask for ./marker-icon.png. Hand it the images.
    images = {
        option: _data_uri(_asset_table()[f"{_LEAFLET}/images/{file_name}"])
        for option, file_name in (
            ("iconUrl", "marker-icon.png"),
            ("iconRetinaUrl", "marker-icon-2x.png"),
            ("shadowUrl", "marker-shadow.png"),
        )
    }
    assignments = "".join(f'L.Icon.Default.prototype.options.{option}="{uri}";' for option, uri in images.items())
    return f'<script data-gridsvc-inline-fix="leaflet-default-icon">L.Icon.Default.imagePath="";{assignments}</script>'


def _embed_placeholders(html: str) -> str:
    def embed(match: re.Match) -> str:
        if match.group("script"):
            name = match.group("script")
            block = f'<script data-gridsvc-asset="{name}">{_script_safe(_read_text(name))}</script>'
            return block + _default_icon_fix() if name == f"{_LEAFLET}/leaflet.js" else block
        name = match.group("style")
        css = _css_with_embedded_urls(name)
        if re.search(r"</style", css, flags=re.IGNORECASE):
            raise UnmappedAssetError(f"{name} contains '</style' and cannot be inlined")
        return f'<style data-gridsvc-asset="{name}">{css}</style>'

    embedded, count = _LINK_PLACEHOLDER.subn(embed, html)
    if count == 0:
        raise UnmappedAssetError("no asset placeholder found: the page would have no Leaflet")
    return embedded
