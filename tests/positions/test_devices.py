"""Devices: registered with a key shown once, listed in scope without it, revoked, re-keyed."""
from __future__ import annotations

import sqlalchemy as sa

from gridsvc.auth.models import User
from gridsvc.audit.models import AuditEntry
from gridsvc.positions.models import Device
from gridsvc.positions.service import key_digest


def _patroller_id(session, username: str) -> int:
    return session.scalar(sa.select(User.patroller_id).where(User.username == username))


def test_a_volunteer_registers_their_own_device_and_sees_the_key_once(client_as, session):
    volunteer = client_as("volunteer1")
    response = volunteer.post("/api/v1/devices", json={"name": "Redmi 12", "platform": "android"})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    key = body["key"]
    assert len(key) >= 32 and body["datum"] == "wgs84" and body["active"] is True
    assert body["volunteer"]["id"] == _patroller_id(session, "volunteer1")

    listing = volunteer.get("/api/v1/devices")
    assert listing.status_code == 200
    assert [device["id"] for device in listing.get_json()["devices"]] == [body["id"]]
    assert key not in listing.get_data(as_text=True)
    assert "key" not in listing.get_json()["devices"][0]

    stored = session.get(Device, body["id"])
    assert stored.key_hash == key_digest(key) and key not in stored.key_hash
    trail = " ".join(str(entry.after) for entry in session.scalars(
        sa.select(AuditEntry).where(AuditEntry.table_name == "devices")))
    assert trail and key not in trail and stored.key_hash not in trail


def test_a_station_registers_for_its_patrollers_and_other_stations_cannot_see_it(client_as, session):
    station1 = client_as("station1")
    volunteer_id = _patroller_id(session, "volunteer1")
    response = station1.post("/api/v1/devices", json={"name": "tracker", "volunteer": volunteer_id, "datum": "gcj02"})
    assert response.status_code == 201, response.get_json()
    device_id = response.get_json()["id"]
    assert response.get_json()["datum"] == "gcj02"

    station2 = client_as("station2")
    assert device_id not in [device["id"] for device in station2.get("/api/v1/devices").get_json()["devices"]]
    assert device_id in [device["id"] for device in station1.get("/api/v1/devices").get_json()["devices"]]
    assert device_id in [device["id"] for device in client_as("viewer").get("/api/v1/devices").get_json()["devices"]]
    for path in (f"/api/v1/devices/{device_id}/revoke", f"/api/v1/devices/{device_id}/key"):
        refused = station2.post(path)
        assert refused.status_code == 404 and refused.get_json()["error"]["code"] == "device_not_found"
    missing = station2.post("/api/v1/devices/999999/revoke")
    assert missing.get_json()["error"] == refused.get_json()["error"] | {"message": missing.get_json()["error"]["message"],
                                                                         "params": {"id": 999999}}
    # another station's volunteer answers as one that does not exist
    other = station2.post("/api/v1/devices", json={"name": "x", "volunteer": volunteer_id})
    assert other.status_code == 404 and other.get_json()["error"]["code"] == "patroller_not_found"


def test_a_volunteer_cannot_register_or_touch_someone_elses_device(client_as, session):
    worker_id = _patroller_id(session, "worker1")
    refused = client_as("volunteer1").post("/api/v1/devices", json={"name": "x", "volunteer": worker_id})
    assert refused.status_code == 404 and refused.get_json()["error"]["code"] == "patroller_not_found"
    device_id = client_as("station1").post("/api/v1/devices", json={"name": "w", "volunteer": worker_id}).get_json()["id"]
    assert client_as("volunteer1").post(f"/api/v1/devices/{device_id}/revoke").status_code == 404


def test_bad_input_is_refused(client_as):
    volunteer = client_as("volunteer1")
    assert volunteer.post("/api/v1/devices", json={"name": " "}).get_json()["error"]["code"] == "device_name_required"
    assert volunteer.post("/api/v1/devices", json={"name": "a", "datum": "bd09"}).get_json()["error"]["code"] == "device_datum"
    assert volunteer.post("/api/v1/devices", json={"name": "a" * 101}).status_code == 422


def test_revoke_and_rotate(client_as, session):
    volunteer = client_as("volunteer1")
    created = volunteer.post("/api/v1/devices", json={"name": "phone"}).get_json()
    rotated = volunteer.post(f"/api/v1/devices/{created['id']}/key")
    assert rotated.status_code == 200
    new_key = rotated.get_json()["key"]
    assert new_key != created["key"]
    assert session.get(Device, created["id"]).key_hash == key_digest(new_key)
    revoked = volunteer.post(f"/api/v1/devices/{created['id']}/revoke")
    assert revoked.status_code == 200 and revoked.get_json()["active"] is False
    assert volunteer.post(f"/api/v1/devices/{created['id']}/key").get_json()["error"]["code"] == "device_revoked"
