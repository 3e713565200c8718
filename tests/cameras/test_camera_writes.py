"""GB/T 28181 ids are validated and split; bad camera writes leave nothing behind."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from gridsvc.cameras.gbt28181 import parse_device_id
from gridsvc.cameras.models import Camera
from gridsvc.cameras.service import create_camera
from gridsvc.errors import ConflictError, ValidationError


def test_device_id_is_split_into_its_parts():
    device = parse_device_id("35060001001325000007")
    assert (device.centre, device.industry, device.type, device.network, device.serial) == (
        "35060001", "00", "132", "5", "000007")
    parts = device.parts()
    assert parts["region"] == "350600"
    assert parts["type_name"] == "ip_camera"
    assert parts["network_name"] == "public_security"


@pytest.mark.parametrize("bad, code", [
    ("3506000100132500000", "device_id_format"),  # 19 digits
    ("350600010013250000071", "device_id_format"),  # 21 digits
    ("3506000100132500000A", "device_id_format"),
    ("３５０６０００１００１３２５０００００７", "device_id_format"),  # full-width digits
    ("35060001009995000007", "device_id_type_code"),
    ("35060001001329000007", "device_id_network"),
])
def test_malformed_device_ids_are_refused(bad, code):
    with pytest.raises(ValidationError) as error:
        parse_device_id(bad)
    assert error.value.code == code


def test_a_recorder_id_is_not_a_camera():
    with pytest.raises(ValidationError) as error:
        parse_device_id("35060001001185000007", cameras_only=True)
    assert error.value.code == "device_id_not_camera"


def test_region_prefix_is_checked():
    with pytest.raises(ValidationError) as error:
        parse_device_id("11010001001325000007", region_prefix="350600")
    assert error.value.code == "device_id_region"


def _count(session):
    return session.scalar(sa.select(sa.func.count()).select_from(Camera))


@pytest.mark.parametrize("kwargs, error_type, code", [
    ({"device_id": "123"}, ValidationError, "device_id_format"),
    ({"device_id": "35060001001325000001"}, ConflictError, "camera_duplicate"),
    ({"lon": 118.9, "lat": 25.1}, ValidationError, "outside_zone"),
    ({"lon": 23.8805, "lat": 117.3005}, ValidationError, "swapped_coordinates"),
])
def test_bad_camera_writes_change_nothing(session, kwargs, error_type, code):
    before = _count(session)
    arguments = {"device_id": "35060001001325999999", "name": "测试", "kind": "security", "lon": 117.3005,
                 "lat": 23.8805} | kwargs
    with pytest.raises(error_type) as error:
        create_camera(session, **arguments)
    assert error.value.code == code
    assert _count(session) == before


def test_camera_station_follows_from_location(session):
    camera = create_camera(session, device_id="35060001001325999998", name="新探头", kind="grid",
                           lon=117.2405, lat=23.8405)
    assert camera.station.level == "station"
    assert camera.station.code.startswith("350600001")
