"""The registry through the API and the pages: create, edit, retire, history, shares, who may do what."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from gridsvc.cameras.models import Camera, CameraStatusChange
from gridsvc.cameras.service import camera_stats, cameras_geojson, create_camera, retire_camera, update_camera
from gridsvc.errors import ConflictError, NotFoundError, ValidationError
from gridsvc.grids.models import Grid
from maps.gcj02 import wgs84_to_gcj02

NEW = {"device_id": "35060001001325999001", "name": "东门探头", "kind": "grid", "lon": 117.2405, "lat": 23.8405}
FIRST = "35060001001325000001"  # seeded, station 350600001001


def _camera_of_station(session, code: str) -> str:
    return session.scalar(sa.select(Camera.device_id).join(Grid, Camera.station_id == Grid.id)
                          .where(Grid.code == code).order_by(Camera.device_id).limit(1))


# --- service ---------------------------------------------------------------------------------------------------

def test_create_records_the_initial_status_and_link_with_the_actor(session):
    camera = create_camera(session, **NEW, actor="tester", note="new gate")
    changes = session.scalars(sa.select(CameraStatusChange).where(CameraStatusChange.camera_id == camera.id))
    assert {(c.field, c.old_value, c.new_value, c.actor, c.note) for c in changes} == {
        ("status", None, "online", "tester", "new gate"), ("police_linked", None, "true", "tester", "new gate")}


def test_a_gcj02_position_is_converted_and_the_given_one_kept(session):
    given = wgs84_to_gcj02(117.2405, 23.8405)
    camera = create_camera(session, **{**NEW, "lon": given[0], "lat": given[1]}, crs="GCJ-02")
    lon, lat = session.execute(sa.select(sa.func.ST_X(Camera.geom), sa.func.ST_Y(Camera.geom))
                               .where(Camera.id == camera.id)).one()
    assert (lon, lat) == pytest.approx((117.2405, 23.8405), abs=1e-9)
    assert (camera.source_crs, camera.source_lon, camera.source_lat) == ("gcj02", *given)


@pytest.mark.parametrize("changes, code", [
    ({"name": "x" * 201}, "camera_name_length"),
    ({"name": "a\x00b"}, "camera_name_characters"),
    ({"name": "  "}, "camera_name_required"),
    ({"lon": float("nan")}, "camera_coordinate"),
    ({"lon": "117.2405abc"}, "camera_coordinate"),
    ({"lon": True}, "camera_coordinate"),
    ({"police_linked": "maybe"}, "camera_police_linked"),
    ({"status": "retired"}, "camera_status"),
    ({"crs": "bd09"}, "camera_crs"),
    ({"device_id": "35060001001185999001"}, "device_id_not_camera"),
    ({"lon": 118.9, "lat": 25.1}, "outside_zone"),
])
def test_bad_fields_are_refused(session, changes, code):
    with pytest.raises(ValidationError) as error:
        create_camera(session, **{**NEW, **changes}, region_prefix="350600")
    assert error.value.code == code


def test_gcj02_given_as_wgs84_near_the_edge_is_recognised(session):
    lon, lat = wgs84_to_gcj02(117.3575, 23.90)  # the camera is inside; its GCJ-02 numbers are east of the zone
    with pytest.raises(ValidationError) as error:
        create_camera(session, **{**NEW, "lon": lon, "lat": lat})
    assert error.value.code == "crs_suspected"
    assert create_camera(session, **{**NEW, "lon": lon, "lat": lat}, crs="gcj02").station.code.startswith("350600001")


def test_a_retired_id_stays_taken(session):
    retire_camera(session, device_id=FIRST, reason="replaced")
    with pytest.raises(ConflictError) as error:
        create_camera(session, **{**NEW, "device_id": FIRST})
    assert error.value.code == "camera_duplicate"


def test_update_writes_history_only_for_real_changes(session):
    assert update_camera(session, device_id=FIRST, status="online", police_linked=True, actor="tester") == []
    assert update_camera(session, device_id=FIRST, status="fault", police_linked="0", actor="tester",
                         note="cable cut") == ["police_linked", "status"]
    rows = session.execute(sa.select(CameraStatusChange.field, CameraStatusChange.old_value,
                                     CameraStatusChange.new_value, CameraStatusChange.note)
                           .join(Camera).where(Camera.device_id == FIRST, CameraStatusChange.actor == "tester")).all()
    assert set(rows) == {("status", "online", "fault", "cable cut"), ("police_linked", "true", "false", "cable cut")}


def test_moving_a_camera_rederives_its_station_and_checks_the_place(session):
    assert update_camera(session, device_id=FIRST, lon=117.3505, lat=23.9105) == ["location"]
    camera = session.scalar(sa.select(Camera).where(Camera.device_id == FIRST))
    assert camera.station.code != "350600001001"
    with pytest.raises(ValidationError) as error:
        update_camera(session, device_id=FIRST, lon=117.3505)
    assert error.value.code == "camera_location_pair"
    with pytest.raises(ValidationError) as error:
        update_camera(session, device_id=FIRST, lon=23.9105, lat=117.3505)
    assert error.value.code == "swapped_coordinates"


def test_retired_cameras_cannot_change_and_leave_maps_and_shares(session):
    before = camera_stats(session)["overall"]["cameras"]
    retire_camera(session, device_id=FIRST)
    with pytest.raises(ConflictError) as error:
        update_camera(session, device_id=FIRST, status="offline")
    assert error.value.code == "camera_retired"
    with pytest.raises(ConflictError):
        retire_camera(session, device_id=FIRST)
    assert camera_stats(session)["overall"]["cameras"] == before - 1
    assert FIRST not in {f["id"] for f in cameras_geojson(session)["features"]}
    assert FIRST in {f["id"] for f in cameras_geojson(session, include_retired=True)["features"]}


@pytest.mark.parametrize("device_id", ["123", "35060001001325999999", "３５０６０００１００１３２５０００００１", "\x00"])
def test_unknown_or_malformed_ids_are_not_found(session, device_id):
    with pytest.raises(NotFoundError):
        update_camera(session, device_id=device_id, status="offline")


def test_shares_are_exact_and_rounded_half_up(session):
    station_cameras = list(session.scalars(sa.select(Camera.device_id).join(Grid, Camera.station_id == Grid.id)
                                           .where(Grid.code == "350600001001").order_by(Camera.device_id)))
    assert len(station_cameras) == 17
    update_camera(session, device_id=station_cameras[0], status="offline")
    update_camera(session, device_id=station_cameras[1], police_linked=False)
    update_camera(session, device_id=station_cameras[2], police_linked=False, status="fault")
    stats = camera_stats(session)
    row = next(r for r in stats["by_station"] if r["station_code"] == "350600001001")
    # 15/17 = 88.235… → 88.24; 15/17 online too (one offline, one fault)
    assert (row["cameras"], row["linked"], row["linked_percent"], row["online"], row["online_percent"],
            row["offline"], row["fault"]) == (17, 15, 88.24, 15, 88.24, 1, 1)
    overall = stats["overall"]
    # 250/252 = 99.2063… → 99.21
    assert (overall["cameras"], overall["linked"], overall["linked_percent"], overall["online_percent"]) == (
        252, 250, 99.21, 99.21)
    others = [r for r in stats["by_station"] if r["station_code"] != "350600001001"]
    assert all(r["linked_percent"] == 100.0 for r in others)


def test_a_station_without_cameras_has_no_share(session):
    from tests.cameras.conftest import _square
    from gridsvc.grids.service import create_grid

    centre = create_grid(session, name="空中心", level="centre", region_code="350600",
                         geometry=_square(118.0, 24.5, 118.01, 24.51))
    create_grid(session, name="空站", level="station", region_code="350600", parent_code=centre.code,
                geometry=_square(118.0, 24.5, 118.01, 24.51))
    row = camera_stats(session)["by_station"][-1]
    assert (row["cameras"], row["linked_percent"], row["online_percent"]) == (0, None, None)


# --- API -------------------------------------------------------------------------------------------------------

def test_api_create_show_patch_retire(client):
    response = client.post("/api/v1/cameras", json=NEW)
    assert response.status_code == 201
    body = response.get_json()
    assert body["id_parts"]["type_name"] == "ip_camera" and body["station_code"] == "350600001001"
    assert response.headers["Location"].endswith("/api/v1/cameras/35060001001325999001")
    assert "admin" in body["history"][0]["actor"]
    assert client.post("/api/v1/cameras", json=NEW).get_json()["error"]["code"] == "camera_duplicate"
    response = client.patch("/api/v1/cameras/35060001001325999001", json={"status": "offline", "note": "power"})
    assert response.status_code == 200 and response.get_json()["changed"] == ["status"]
    assert response.get_json()["history"][0]["new"] == "offline"
    response = client.post("/api/v1/cameras/35060001001325999001/retire", json={"reason": "moved away"})
    assert response.status_code == 200 and response.get_json()["retired_at"]
    assert client.patch("/api/v1/cameras/35060001001325999001", json={"status": "online"}).status_code == 409
    shown = client.get("/api/v1/cameras/35060001001325999001").get_json()
    assert [h["field"] for h in shown["history"]][:2] == ["retired", "status"]
    assert shown["history"][0]["note"] == "moved away"


@pytest.mark.parametrize("payload, status, code", [
    ({**NEW, "device_id": "11010001001325999001"}, 422, "device_id_region"),
    ({**NEW, "device_id": "35060001001185999001"}, 422, "device_id_not_camera"),
    ({**NEW, "colour": "red"}, 422, "unknown_fields"),
    ({**NEW, "device_id": 35060001001325999001}, 422, "device_id_type"),
    ({**NEW, "lon": None}, 422, "camera_coordinate"),
    ({**NEW, "device_id": FIRST}, 409, "camera_duplicate"),
])
def test_api_refusals_write_nothing(client, session, payload, status, code):
    before = session.scalar(sa.select(sa.func.count()).select_from(Camera))
    response = client.post("/api/v1/cameras?lang=en", json=payload)
    assert (response.status_code, response.get_json()["error"]["code"]) == (status, code)
    assert session.scalar(sa.select(sa.func.count()).select_from(Camera)) == before


def test_api_nan_is_refused(client):
    body = '{"device_id": "35060001001325999001", "name": "a", "kind": "grid", "lon": NaN, "lat": 23.84}'
    response = client.post("/api/v1/cameras", data=body, content_type="application/json")
    assert response.status_code == 422


def test_error_messages_are_chinese_by_default(client):
    response = client.post("/api/v1/cameras", json={**NEW, "kind": "drone"})
    assert response.status_code == 422
    assert response.get_json()["error"]["message"] != "Camera kind must be security or grid; got drone"


def test_api_stats_and_list_filters(client):
    stats = client.get("/api/v1/cameras/stats").get_json()
    assert stats["overall"] == {"cameras": 252, "linked": 252, "linked_percent": 100.0, "online": 252,
                                "online_percent": 100.0, "offline": 0, "fault": 0}
    assert len(stats["by_station"]) == 15
    assert len(client.get("/api/v1/cameras").get_json()["features"]) == 252


# --- roles -----------------------------------------------------------------------------------------------------

def test_station_users_see_and_edit_only_their_station(client_as, session):
    other = _camera_of_station(session, "350600001002")
    station1 = client_as("station1")
    assert len(station1.get("/api/v1/cameras").get_json()["features"]) == 17
    assert station1.get(f"/api/v1/cameras/{other}").status_code == 404
    assert station1.patch(f"/api/v1/cameras/{other}", json={"status": "fault"}).status_code == 404
    assert station1.patch(f"/api/v1/cameras/{FIRST}", json={"status": "fault"}).status_code == 200
    moved = station1.patch(f"/api/v1/cameras/{FIRST}", json={"lon": 117.3505, "lat": 23.9105})
    assert moved.get_json()["error"]["code"] == "camera_station_not_allowed"
    assert station1.post("/api/v1/cameras", json=NEW).status_code == 403
    assert station1.post(f"/api/v1/cameras/{FIRST}/retire").status_code == 403
    assert [r["station_code"] for r in station1.get("/api/v1/cameras/stats").get_json()["by_station"]] == [
        "350600001001"]
    assert station1.get("/api/v1/cameras/export.csv").get_data().decode("utf-8-sig").count("\n") == 18


def test_viewers_read_but_do_not_write(client_as):
    viewer = client_as("viewer")
    assert viewer.get(f"/api/v1/cameras/{FIRST}").status_code == 200
    assert viewer.patch(f"/api/v1/cameras/{FIRST}", json={"status": "fault"}).status_code == 403
    assert viewer.post("/api/v1/cameras/import", json={"rows": []}).status_code == 403
    assert client_as("volunteer1").get("/api/v1/cameras").status_code == 403


# --- pages -----------------------------------------------------------------------------------------------------

def test_list_page_shows_shares_and_filters(client):
    page = client.get("/cameras?lang=en&station=350600001001")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "17 cameras match" in text and "100.00 %" in text
    assert client.get("/cameras?status=bogus").status_code == 422
    assert client.get("/cameras?q=治安监控00&lang=en").get_data(as_text=True).count("/cameras/3506") == 5  # 001-005


def test_new_edit_retire_through_the_pages(client, session):
    form = {"device_id": NEW["device_id"], "name": "东门", "kind": "grid", "status": "online", "crs": "wgs84",
            "lon": "117.2405", "lat": "23.8405", "police_linked": "1"}
    response = client.post("/cameras/new", data=form)
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/cameras/{NEW['device_id']}")
    again = client.post("/cameras/new?lang=en", data=form)
    assert again.status_code == 409 and "already registered" in again.get_data(as_text=True)
    detail = client.get(f"/cameras/{NEW['device_id']}?lang=en").get_data(as_text=True)
    assert "IP camera (IPC)" in detail and "Public security network" in detail and "999001" in detail
    response = client.post(f"/cameras/{NEW['device_id']}", data={**form, "lon": "", "lat": "", "status": "fault",
                                                                 "note": "lens cracked"})
    assert response.status_code == 303
    detail = client.get(f"/cameras/{NEW['device_id']}?lang=en").get_data(as_text=True)
    assert "lens cracked" in detail and "Fault" in detail
    assert client.post(f"/cameras/{NEW['device_id']}/retire", data={"reason": "gone"}).status_code == 303
    detail = client.get(f"/cameras/{NEW['device_id']}?lang=en").get_data(as_text=True)
    assert "Retired" in detail and "Retire this camera" not in detail


def test_import_page_shows_the_per_row_report(client):
    import io

    from tests.cameras.conftest import csv_bytes, seed_camera_rows

    rows = seed_camera_rows()
    rows[3] = {**rows[3], "device_id": "123"}
    assert client.get("/cameras/import").status_code == 200
    response = client.post("/cameras/import?lang=en", data={"file": (io.BytesIO(csv_bytes(rows)), "c.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert 'data-code="device_id_format"' in text and "nothing was written" in text
    response = client.post("/cameras/import?lang=en", data={"file": (io.BytesIO(b""), "")},
                           content_type="multipart/form-data")
    assert response.status_code == 422


def test_a_concurrent_duplicate_is_a_conflict_not_an_error(session, monkeypatch):
    # As if another request registered the id between the check and the insert: the unique
    # constraint answers, only this insert is undone, and the transaction stays usable.
    from gridsvc.cameras import service

    create_camera(session, **NEW)
    monkeypatch.setattr(service, "_existing_device", lambda _session, _device_id: None)
    with pytest.raises(ConflictError) as error:
        create_camera(session, **{**NEW, "name": "again"})
    assert error.value.code == "camera_duplicate"
    assert session.scalar(sa.select(sa.func.count()).select_from(Camera).where(Camera.device_id == NEW["device_id"])) == 1
