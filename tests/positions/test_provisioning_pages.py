"""Issue 17, points 1 and 4 on the phone pages: Traccar Client set up in one scan, and the on-duty switch.

The set-up link is Traccar Client's configuration URL (its lib/configuration_service.dart and
lib/preferences.dart): org.traccar.client://?url=…&id=…&interval=…&distance=…&accuracy=…; the
app posts its fixes to `url` as given, with `id` as its device id (here: the device key).
"""
from __future__ import annotations

import datetime as dt
import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import segno
import sqlalchemy as sa

from gridsvc.audit.models import AuditEntry
from gridsvc.auth.models import User
from gridsvc.people.models import Patroller
from gridsvc.positions.models import Device, Position
from gridsvc.positions.service import provisioning_url

INTAKE = "http://localhost/api/v1/positions/osmand"  # the test client's host
LAT, LON = "23.8812345", "117.3012345"


def _page(response) -> str:
    return response.get_data(as_text=True)


def _setup_values(response) -> dict:
    """What a set-up page shows: the link (as the QR code and the button carry it), the QR SVG, the plain values."""
    text = _page(response)
    link = html.unescape(re.search(r'href="([^"]+)" data-testid="setup-link"', text)[1])
    qr = re.search(r'<div class="qr" data-testid="qr">(.*?)</div>', text, re.S)[1]
    server_url = html.unescape(re.search(r'value="([^"]*)" data-testid="server-url"', text)[1])
    key = html.unescape(re.search(r'value="([^"]*)" data-testid="device-id"', text)[1])
    return {"link": link, "qr": qr, "server_url": server_url, "key": key}


def _register(page_client, name: str = "我的手机", **fields):
    return page_client.post("/devices", data={"name": name, "platform": "Android", **fields})


def _device_id(session, name: str) -> int:
    session.expire_all()
    return session.scalar(sa.select(Device.id).where(Device.name == name).order_by(Device.id.desc()))


def _account(session, username: str) -> str:
    return session.scalar(sa.select(Patroller.app_account_id).join(User, User.patroller_id == Patroller.id)
                          .where(User.username == username))


def _send(app, url: str, key: str, at: dt.datetime):
    """A fix as Traccar Client sends it: to the configured URL exactly, its device id in `id`."""
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == "http://localhost"
    return app.test_client().get(parts.path, query_string={"id": key, "lat": LAT, "lon": LON,
                                                           "timestamp": str(int(at.timestamp())), "accuracy": "5"})


def _stored(session, device_id: int) -> int:
    session.expire_all()
    return session.scalar(sa.select(sa.func.count()).select_from(Position).where(Position.device_id == device_id))


def test_provisioning_url_is_traccar_clients_configuration_link():
    link = provisioning_url(server_url="https://grid.example.cn/api/v1/positions/osmand", key="Ab-c_9",
                            interval_s=10, distance_m=10, accuracy="highest")
    parts = urlsplit(link)
    assert parts.scheme == "org.traccar.client" and parts.netloc == "" and parts.path == ""
    assert parse_qs(parts.query, strict_parsing=True) == {
        "url": ["https://grid.example.cn/api/v1/positions/osmand"], "id": ["Ab-c_9"], "interval": ["10"],
        "distance": ["10"], "accuracy": ["highest"]}
    assert "/api/" not in parts.query  # the server URL travels percent-encoded, one query value
    for bad in ({"accuracy": "best"}, {"interval_s": 0}, {"distance_m": -1}, {"server_url": "grid.example.cn"},
                {"key": ""}):
        arguments = {"server_url": "https://grid.example.cn/x", "key": "k", "interval_s": 10, "distance_m": 10,
                     "accuracy": "high", **bad}
        with pytest.raises(ValueError):
            provisioning_url(**arguments)


def test_registering_shows_the_set_up_code_with_the_configuration(app, client_as, session):
    volunteer = client_as("volunteer1")
    empty = volunteer.get("/devices")
    assert empty.status_code == 200
    assert "我的定位设备" in _page(empty) and "还没有设备" in _page(empty)  # Chinese by default, the empty state

    shown = _register(volunteer)
    assert shown.status_code == 200
    assert shown.headers["Cache-Control"] == "no-store" and shown.headers["Referrer-Policy"] == "no-referrer"
    text = _page(shown)
    assert "设置 Traccar Client" in text and "停止" in text  # the warning: an earlier set-up stops working
    values = _setup_values(shown)
    parts = urlsplit(values["link"])
    assert parts.scheme == "org.traccar.client"
    assert parse_qs(parts.query, strict_parsing=True) == {
        "url": [INTAKE], "id": [values["key"]], "interval": ["10"], "distance": ["10"], "accuracy": ["highest"]}
    assert values["server_url"] == INTAKE and len(values["key"]) >= 32
    # The QR code is exactly this link, drawn on the server.
    assert values["qr"] == segno.make(values["link"], error="m").svg_inline(scale=4, border=2, title="", omitsize=True)
    # The key is in the page only: not in a header, not stored, not in the audit trail.
    assert all(values["key"] not in value for _name, value in shown.headers.items())
    device_id = _device_id(session, "我的手机")
    device = session.get(Device, device_id)
    assert device.platform == "Android" and values["key"] not in device.key_hash
    trail = " ".join(str(entry.after) + str(entry.before) for entry in session.scalars(
        sa.select(AuditEntry).where(AuditEntry.table_name == "devices")))
    assert values["key"] not in trail

    listed = _page(volunteer.get("/devices"))
    assert "我的手机" in listed and "还没有设备" not in listed and values["key"] not in listed
    english = _page(volunteer.get("/devices?lang=en"))
    assert "My trackers" in english and "Set up Traccar Client" in english


def test_the_link_key_is_stored_on_duty_and_showing_the_code_again_replaces_it(app, client_as, session):
    volunteer = client_as("volunteer1")
    assert volunteer.post("/duty", data={"on_duty": "on"}).status_code == 303
    first = _setup_values(_register(volunteer, name="巡逻手机"))
    device_id = _device_id(session, "巡逻手机")
    url = parse_qs(urlsplit(first["link"]).query)["url"][0]
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    assert _send(app, url, first["key"], now).status_code == 200
    assert _stored(session, device_id) == 1

    again = volunteer.post(f"/devices/{device_id}/setup")
    assert again.status_code == 200 and again.headers["Cache-Control"] == "no-store"
    second = _setup_values(again)
    assert second["key"] != first["key"]
    assert parse_qs(urlsplit(second["link"]).query)["id"] == [second["key"]]
    assert _send(app, url, first["key"], now + dt.timedelta(seconds=10)).status_code == 400  # the old set-up
    assert _stored(session, device_id) == 1
    assert _send(app, url, second["key"], now + dt.timedelta(seconds=20)).status_code == 200
    assert _stored(session, device_id) == 2
    # Traccar Client 9's JSON to the same URL, with the same id.
    body = {"device_id": second["key"], "location": {
        "timestamp": (now + dt.timedelta(seconds=30)).isoformat(),
        "coords": {"latitude": 23.8812, "longitude": 117.3013, "accuracy": 5, "speed": 1, "heading": 0,
                   "altitude": 10}}}
    assert app.test_client().post(urlsplit(url).path, json=body).status_code == 200
    assert _stored(session, device_id) == 3

    # Revoked (after the page's confirmation): the key stops, the page says so, no more set-up.
    revoked = volunteer.post(f"/devices/{device_id}/revoke")
    assert revoked.status_code == 303 and revoked.headers["Location"] == "/devices"
    assert "已停用" in _page(volunteer.get("/devices"))
    assert _send(app, url, second["key"], now + dt.timedelta(seconds=40)).status_code == 400
    assert volunteer.post(f"/devices/{device_id}/setup").status_code == 422


def test_another_stations_manager_cannot_see_or_set_up_the_device(app, client_as, session):
    volunteer = client_as("volunteer1")
    values = _setup_values(_register(volunteer, name="一站手机"))
    device_id = _device_id(session, "一站手机")
    account = _account(session, "volunteer1")
    hash_before = session.get(Device, device_id).key_hash

    other = client_as("station2")
    assert "一站手机" not in _page(other.get("/devices"))
    chosen = other.get(f"/devices?volunteer={account}")
    assert chosen.status_code == 404 and "一站手机" not in _page(chosen)
    assert other.post(f"/devices/{device_id}/setup").status_code == 404
    assert other.post(f"/devices/{device_id}/revoke").status_code == 404
    refused = _register(other, name="冒名手机", volunteer=account)
    assert refused.status_code == 404 and "data-device=" not in _page(refused)  # the form again, no devices
    session.expire_all()
    device = session.get(Device, device_id)
    assert device.key_hash == hash_before and device.revoked_at is None
    assert _device_id(session, "冒名手机") is None
    assert client_as("worker1").post(f"/devices/{device_id}/setup").status_code == 200  # same station: allowed
    worker = session.scalar(sa.select(User.patroller_id).where(User.username == "worker1"))
    assert client_as("volunteer1").get(f"/devices?volunteer={worker}").status_code == 404  # a volunteer: own only

    # The own station's manager, and the manager, may: pick the volunteer, register, set up.
    own = client_as("station1")
    assert "一站手机" in _page(own.get("/devices")) and "一站手机" in _page(own.get(f"/devices?volunteer={account}"))
    assert _register(own, name="站长登记", volunteer=account).status_code == 200
    manager = _setup_values(client_as("manager").post(f"/devices/{device_id}/setup"))
    assert manager["key"] != values["key"]
    session.expire_all()
    assert session.get(Patroller, session.get(Device, _device_id(session, "站长登记")).patroller_id).app_account_id \
        == account
    nobody = _register(own, name="无主手机")
    assert nobody.status_code == 422 and "账号" in _page(nobody)  # a station manager says whose it is


def test_the_duty_toggle_switches_on_and_off_on_both_pages(app, client_as, session):
    volunteer = client_as("volunteer1")
    assert volunteer.get("/api/v1/me/duty").get_json()["on_duty"] is False
    mine = _page(volunteer.get("/patrols"))
    assert 'data-testid="duty"' in mine and 'data-on-duty="no"' in mine and "/devices" in mine
    assert "值勤" in mine and "只在值勤期间" in mine

    switched = volunteer.post("/duty", data={"on_duty": "on", "next": "/patrols"})
    assert switched.status_code == 303 and switched.headers["Location"] == "/patrols"
    duty = volunteer.get("/api/v1/me/duty").get_json()
    assert duty["on_duty"] is True
    back = _page(volunteer.get("/patrols"))
    assert 'data-on-duty="yes"' in back and "已开始值勤" in back  # the flash message
    until = dt.datetime.fromisoformat(duty["until"]).strftime("%Y-%m-%d %H:%M")
    assert until in back and until in _page(volunteer.get("/devices"))

    off = volunteer.post("/duty", data={"on_duty": "off", "next": "/devices"})
    assert off.status_code == 303 and off.headers["Location"] == "/devices"
    assert volunteer.get("/api/v1/me/duty").get_json()["on_duty"] is False
    assert 'data-on-duty="no"' in _page(volunteer.get("/devices"))

    elsewhere = volunteer.post("/duty", data={"on_duty": "on", "next": "//evil.example/"})
    assert elsewhere.status_code == 303 and elsewhere.headers["Location"] == "/"  # never to another site
    assert client_as("station1").post("/duty", data={"on_duty": "on"}).status_code == 404  # not a patroller
    assert 'data-testid="duty"' not in _page(client_as("station1").get("/patrols"))


def test_forms_need_the_csrf_token(app, client_as, session):
    volunteer = client_as("volunteer1")
    _register(volunteer, name="令牌手机")
    device_id = _device_id(session, "令牌手机")
    hash_before = session.get(Device, device_id).key_hash
    app.config["WTF_CSRF_ENABLED"] = True  # as browsers in production (csrf_off restores it)
    page = _page(volunteer.get("/devices"))
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
    assert volunteer.post(f"/devices/{device_id}/setup").status_code in (400, 403)
    assert volunteer.post("/duty", data={"on_duty": "on"}).status_code in (400, 403)
    session.expire_all()
    assert session.get(Device, device_id).key_hash == hash_before
    assert volunteer.get("/api/v1/me/duty").get_json()["on_duty"] is False
    assert volunteer.post(f"/devices/{device_id}/setup", data={"csrf_token": token}).status_code == 200
    assert volunteer.post("/duty", data={"on_duty": "on", "csrf_token": token}).status_code == 303


def test_the_home_and_my_patrols_pages_link_the_trackers(client_as):
    for username in ("volunteer1", "worker1"):
        home = _page(client_as(username).get("/"))
        assert 'href="/devices"' in home and "我的定位设备" in home
    assert 'data-testid="my-trackers"' in _page(client_as("volunteer1").get("/patrols"))
    assert client_as("viewer").get("/devices").status_code == 403
