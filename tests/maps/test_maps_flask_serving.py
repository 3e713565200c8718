"""The blueprint the app is told to paste (see maps.assets) serves everything a served-mode page links."""

import re

import pytest
from flask import Blueprint, Flask, abort, send_file

from maps import asset_files, build_overview_map, render_map_html
from maps.sample_data import sample_cameras, sample_grids


def make_vendor_blueprint() -> Blueprint:
    # --- the snippet given to the app owner, verbatim ---
    vendor = Blueprint("vendor", __name__)
    vendor_files = asset_files()  # {"leaflet-1.9.3/leaflet.js": "/abs/path/leaflet.js", ...}

    @vendor.get("/static/vendor/<path:name>")
    def vendor_asset(name):
        path = vendor_files.get(name)
        if path is None:
            abort(404)
        return send_file(path, max_age=7 * 24 * 3600)

    return vendor
    # --- end of snippet ---


@pytest.fixture()
def client():
    app = Flask(__name__)
    app.register_blueprint(make_vendor_blueprint())
    return app.test_client()


def test_every_link_of_a_served_page_and_of_its_css_is_served(client):
    html = render_map_html(build_overview_map(grids=sample_grids(), cameras=sample_cameras(10)))
    links = re.findall(r'(?:src|href)="(/static/vendor/[^"]+)"', html)
    assert len(links) >= 6
    for link in links:
        response = client.get(link)
        assert response.status_code == 200, link
        if link.endswith(".css"):
            for target in re.findall(r"""url\(\s*['"]?([^'")#?]+)""", response.get_data(as_text=True)):
                if target.startswith("data:"):
                    continue
                referenced = link.rsplit("/", 1)[0] + "/" + target
                while "/../" in referenced:
                    referenced = re.sub(r"/[^/]+/\.\./", "/", referenced, count=1)
                assert client.get(referenced).status_code == 200, (link, target)
        response.close()


def test_unknown_or_escaping_names_are_404(client):
    for name in ("nope.js", "../assets.py", "leaflet-1.9.3/../../../etc/passwd", "gridsvc/../../maps/assets.py"):
        assert client.get(f"/static/vendor/{name}").status_code == 404, name


def test_asset_files_has_no_duplicate_or_absolute_names():
    names = list(asset_files())
    assert len(names) == len(set(names))
    assert all(not name.startswith("/") and "\\" not in name for name in names)
