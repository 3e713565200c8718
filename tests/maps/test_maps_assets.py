import os
import re
import threading

import folium
import folium.plugins
import pytest

from maps import build_overview_map, render_map_html
from maps.assets import (
    FILE_NAME_TO_ASSET,
    UnmappedAssetError,
    asset_files,
    asset_name_for_url,
    localize_assets,
)
from maps.sample_data import sample_cameras, sample_effort, sample_grids, sample_tracks

URL = re.compile(r"""https?://[^\s"'<>()\\]+""", re.IGNORECASE)
ATTRIBUTE_URL = re.compile(r"""\b(?:src|href)\s*=\s*["']([^"']*)["']""", re.IGNORECASE)
CSS_URL = re.compile(r"""url\(\s*['"]?([^'")]+)['"]?\s*\)""")
EMBEDDED_ASSET_BLOCK = re.compile(
    r'<(script|style) data-gridsvc-asset="([^"]+)">(.*?)</\1>', re.DOTALL
)

# URLs that occur as plain strings inside the vendored files and are never requested: the SVG
# XML namespace, Leaflet's default attribution link (gridsvc replaces the prefix, see the
# browser test), and a bug reference in a CSS comment. Anything else found fails the test.
NON_FETCHED_VENDOR_STRINGS = {
    "http://www.w3.org/2000/svg",
    "https://leafletjs.com",
    "https://bugzilla.mozilla.org/show_bug.cgi?id=888319",
}


@pytest.fixture(scope="module")
def full_map():
    return build_overview_map(
        grids=sample_grids(),
        cameras=sample_cameras(252),
        tracks=sample_tracks(),
        effort=sample_effort(),
        title="常山 overview",
    )


def test_every_mapped_asset_is_an_installed_file():
    files = asset_files()
    assert files, "no assets"
    for name, path in files.items():
        assert os.path.isabs(path) and os.path.isfile(path), name
        assert not name.startswith("/") and ".." not in name.split("/")
    for file_name, name in FILE_NAME_TO_ASSET.items():
        if name is not None:
            assert name in files, file_name


def test_every_cdn_url_folium_uses_for_our_classes_is_mapped():
    for element_class in (folium.Map, folium.plugins.MarkerCluster, folium.plugins.FastMarkerCluster, folium.plugins.HeatMap):
        for _, url in list(element_class.default_js) + list(element_class.default_css):
            asset_name_for_url(url)  # raises UnmappedAssetError if not


def test_css_relative_references_resolve_to_served_files():
    files = asset_files()
    for name, path in files.items():
        if not name.endswith(".css"):
            continue
        with open(path, encoding="utf-8") as css:
            for target in CSS_URL.findall(css.read()):
                if target.startswith(("data:", "#")):
                    continue
                resolved = os.path.normpath(os.path.join(os.path.dirname(name), target.split("?")[0].split("#")[0]))
                assert resolved.replace(os.sep, "/") in files, f"{name} -> {target}"


def test_served_mode_links_only_local_assets_that_exist(full_map):
    html = render_map_html(full_map, asset_url_prefix="/static/vendor/")
    assert URL.findall(html) == []  # not a single http(s) URL, not even in data or comments
    links = ATTRIBUTE_URL.findall(html)
    assert links, "expected <script src> and <link href> tags"
    files = asset_files()
    for link in links:
        assert link.startswith("/static/vendor/"), link
        name = link[len("/static/vendor/"):]
        assert name in files and os.path.isfile(files[name]), link
    assert "gridsvc-asset:" not in html and "gridsvc-inline:" not in html
    for needed in ("leaflet.js", "leaflet.css", "leaflet.markercluster.js", "gridsvc-map.js", "gridsvc-map.css"):
        assert any(link.endswith(needed) for link in links), needed


def test_inline_mode_embeds_everything_and_fetches_nothing(full_map):
    html = render_map_html(full_map, inline=True)
    embedded = EMBEDDED_ASSET_BLOCK.findall(html)
    embedded_names = {name for _, name, _ in embedded}
    assert {"leaflet-1.9.3/leaflet.js", "gridsvc/gridsvc-map.js", "gridsvc/gridsvc-map.css"} <= embedded_names
    assert not any("font-awesome" in name for name in embedded_names)  # icon fonts left out
    # Outside the vendored blocks: no URL at all; no src/href but fragments and data: URIs.
    page_without_vendor = EMBEDDED_ASSET_BLOCK.sub("", html)
    assert URL.findall(page_without_vendor) == []
    for link in ATTRIBUTE_URL.findall(page_without_vendor):
        assert link.startswith(("#", "data:")), link
    # Inside them: only strings that are never fetched.
    for _, name, body in embedded:
        assert set(URL.findall(body)) <= NON_FETCHED_VENDOR_STRINGS, name
        for target in CSS_URL.findall(body) if _ == "style" else []:
            assert target.startswith(("data:", "#")), (name, target)
    assert "<script src=" not in html and '<link rel="stylesheet"' not in html


def test_rendering_does_not_touch_folium_class_attributes(full_map):
    before_js, before_css = list(folium.Map.default_js), list(folium.Map.default_css)
    render_map_html(full_map, inline=True)
    render_map_html(full_map, asset_url_prefix="/elsewhere/")
    assert folium.Map.default_js == before_js and folium.Map.default_css == before_css
    plain = folium.Map(tiles=None).get_root().render()
    assert "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js" in plain


def test_switching_modes_and_prefixes_leaves_no_stale_link(full_map):
    render_map_html(full_map, asset_url_prefix="/a/")
    inline = render_map_html(full_map, inline=True)
    assert "/a/" not in inline and "font-awesome" not in inline
    served = render_map_html(full_map, asset_url_prefix="/b")
    links = ATTRIBUTE_URL.findall(served)
    assert links and all(link.startswith("/b/") for link in links)
    assert any("font-awesome" in link for link in links)  # back in served mode


def test_concurrent_renders_with_different_prefixes_do_not_interfere():
    results = {}

    def render(prefix):
        m = build_overview_map(grids=sample_grids(), cameras=sample_cameras(20))
        for _ in range(3):
            results[prefix] = render_map_html(m, asset_url_prefix=prefix)

    threads = [threading.Thread(target=render, args=(f"/p{i}/",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for prefix, html in results.items():
        links = ATTRIBUTE_URL.findall(html)
        assert links and all(link.startswith(prefix) for link in links), prefix


def test_a_plugin_without_a_local_copy_is_refused_not_loaded_from_a_cdn():
    m = folium.Map(tiles=None)
    folium.plugins.Fullscreen().add_to(m)
    with pytest.raises(UnmappedAssetError, match="leaflet.fullscreen"):
        render_map_html(m, inline=True)


def test_prefix_must_be_a_local_path():
    m = folium.Map(tiles=None)
    for bad in ("https://cdn.example/vendor/", "//cdn.example/vendor/"):
        with pytest.raises(ValueError):
            localize_assets(m, bad)


def test_plain_folium_map_also_renders_offline():
    m = folium.Map(tiles=None, **{"maxZoom": 18})
    folium.plugins.MarkerCluster().add_to(m)
    folium.plugins.HeatMap([[23.88, 117.3, 1.0]]).add_to(m)
    html = render_map_html(m)
    assert URL.findall(html) == []
    assert "/static/vendor/leaflet-heat-folium-0.20/leaflet_heat.min.js" in html
