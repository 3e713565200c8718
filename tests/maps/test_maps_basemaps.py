import re

import pytest

from maps import build_overview_map, render_map_html
from maps.basemaps import GAODE_DEFAULT_URL, resolve_base_map, tile_layers
from maps.sample_data import sample_cameras, sample_grids

URL = re.compile(r"""https?://[^\s"'<>()\\]+""")


def render(base_map):
    return render_map_html(build_overview_map(grids=sample_grids(), cameras=sample_cameras(3), base_map=base_map))


def test_default_is_no_tiles_with_a_max_zoom():
    for config in (None, {"kind": "none"}):
        base_map = resolve_base_map(config)
        assert base_map.kind == "none" and base_map.tiles == () and not base_map.needs_gcj02
        html = render(config)
        assert "L.tileLayer" not in html
        assert '"maxZoom": 18' in html  # markercluster needs it when there are no tiles
        assert URL.findall(html) == []


def test_xyz_tiles_use_the_given_url_and_escaped_attribution():
    config = {"kind": "xyz", "url": "http://127.0.0.1:8080/tiles/{z}/{x}/{y}.png", "attribution": "<b>Local</b> & co", "max_zoom": 17}
    base_map = resolve_base_map(config)
    assert base_map.max_zoom == 17 and not base_map.needs_gcj02
    html = render(config)
    assert '"http://127.0.0.1:8080/tiles/{z}/{x}/{y}.png"' in html
    # Leaflet shows attribution as HTML: it is escaped, then JSON-escaped into the script.
    assert tile_layers(base_map)[0].options["attribution"] == "&lt;b&gt;Local&lt;/b&gt; &amp; co"
    assert "\\u0026lt;b\\u0026gt;Local" in html and "<b>Local</b>" not in html
    assert '"maxZoom": 17' in html


def test_xyz_may_declare_gcj02_for_a_mirror_of_gcj_tiles():
    assert resolve_base_map({"kind": "xyz", "url": "/t/{z}/{x}/{y}", "attribution": "a", "datum": "gcj02"}).needs_gcj02


@pytest.mark.parametrize(
    "config, message",
    [
        ({"kind": "xyz", "attribution": "a"}, "url"),
        ({"kind": "xyz", "url": "/t/{z}/{x}/{y}.png"}, "attribution"),
        ({"kind": "xyz", "url": "javascript:alert(1)//{z}{x}{y}", "attribution": "a"}, "http"),
        ({"kind": "xyz", "url": "tiles/{z}/{x}/{y}.png", "attribution": "a"}, "http"),
        ({"kind": "xyz", "url": "/t/{z}/{x}.png", "attribution": "a"}, "placeholders"),
        ({"kind": "xyz", "url": "/t/{z}/{x}/{y}.png?{{ 7*7 }}", "attribution": "a"}, "must not contain"),
        ({"kind": "xyz", "url": "/t/{z}/{x}/{y}", "attribution": "a", "max_zoom": 30}, "max_zoom"),
        ({"kind": "xyz", "url": "/t/{z}/{x}/{y}", "attribution": "a", "datum": "bd09"}, "datum"),
        ({"kind": "tianditu"}, "key"),
        ({"kind": "tianditu", "key": "  "}, "key"),
        ({"kind": "tianditu", "key": "k", "style": "terrain"}, "style"),
        ({"kind": "baidu"}, "unknown base map kind"),
        ({"kind": "none", "url": "x"}, "does not take"),
    ],
)
def test_invalid_configs_are_rejected(config, message):
    with pytest.raises(ValueError, match=message):
        resolve_base_map(config)


def test_tianditu_vector_and_labels_on_eight_subdomains_in_wgs84():
    base_map = resolve_base_map({"kind": "tianditu", "key": "abc&x=1"})
    assert not base_map.needs_gcj02
    urls = [tile.url for tile in base_map.tiles]
    assert urls == [
        "https://t{s}.tianditu.gov.cn/DataServer?T=vec_w&x={x}&y={y}&l={z}&tk=abc%26x%3D1",
        "https://t{s}.tianditu.gov.cn/DataServer?T=cva_w&x={x}&y={y}&l={z}&tk=abc%26x%3D1",
    ]
    assert all(tile.subdomains == "01234567" for tile in base_map.tiles)
    assert [tile.overlay for tile in base_map.tiles] == [False, True]
    html = render({"kind": "tianditu", "key": "abc"})
    assert html.count("L.tileLayer") == 2 and '"subdomains": "01234567"' in html


def test_tianditu_imagery_style():
    urls = [tile.url for tile in resolve_base_map({"kind": "tianditu", "key": "k", "style": "imagery"}).tiles]
    assert "T=img_w" in urls[0] and "T=cia_w" in urls[1]


def test_gaode_is_gcj02_with_a_default_or_given_url():
    default = resolve_base_map({"kind": "gaode"})
    assert default.needs_gcj02 and default.tiles[0].url == GAODE_DEFAULT_URL and default.tiles[0].subdomains == "1234"
    mirrored = resolve_base_map({"kind": "gaode", "url": "/gaode/{z}/{x}/{y}.png", "subdomains": None})
    assert mirrored.needs_gcj02 and mirrored.tiles[0].url == "/gaode/{z}/{x}/{y}.png"
    assert mirrored.tiles[0].subdomains is None
