"""A patrol's GPX or GeoJSON track goes through the position intake too (issue 17, point 2): every point kept, flagged."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from geoalchemy2.shape import to_shape

from gridsvc.positions.intake import TRACK_FILE_DEVICE_PLATFORM
from gridsvc.positions.models import Device, Position
from tests.patrols.gpx_helpers import read_reference_segments
from tests.patrols.helpers import new_uuid, post_gpx, zone_gpx


def _track_file_points(session) -> list[Position]:
    session.expire_all()
    return list(session.scalars(sa.select(Position).join(Device, Position.device_id == Device.id)
                                .where(Device.platform == TRACK_FILE_DEVICE_PLATFORM)
                                .order_by(Position.fixed_at, Position.id)))


def test_an_uploaded_gpx_track_is_kept_point_by_point_and_a_retry_adds_nothing(client, session):
    data = zone_gpx("korita-zbevnica.gpx", starting=datetime(2026, 11, 20, 1, 0, tzinfo=UTC))
    expected = [(lon, lat, time) for segment in read_reference_segments(data) for lon, lat, time in segment]
    client_uuid = new_uuid()
    created = post_gpx(client, data, client_uuid=client_uuid)
    assert created.status_code == 201, created.get_json()
    points = _track_file_points(session)
    assert {point.source for point in points} == {"gpx"}
    assert len(points) == len(expected) - created.get_json().get("dropped_duplicates", 0)
    first = to_shape(points[0].geom)
    assert points[0].fixed_at == min(time for _lon, _lat, time in expected)
    lon, lat, _time = min(expected, key=lambda point: point[2])
    assert (first.x, first.y) == (lon, lat) or abs(first.x - lon) + abs(first.y - lat) < 1e-9
    assert points[0].patroller_id == session.get(Device, points[0].device_id).patroller_id

    again = post_gpx(client, data, client_uuid=client_uuid)  # the same submission retried
    assert again.status_code == 200
    assert len(_track_file_points(session)) == len(points)


def test_a_geojson_track_point_with_an_impossible_jump_is_kept_and_flagged(client, session):
    start = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    coordinates = [[117.30, 23.88], [117.3005, 23.88], [117.3010, 23.88], [117.3015, 23.88]]
    times = [(start + timedelta(minutes=minute)).isoformat() for minute in range(4)]
    coordinates[2] = [117.35, 23.88]  # 5 km away one minute after the point before: 300 km/h
    answer = client.post("/api/v1/patrols?lang=en", json={
        "client_uuid": new_uuid(), "kind": "individual", "volunteer": "XLXQ000008",
        "track": {"type": "Feature", "geometry": {"type": "LineString", "coordinates": coordinates},
                  "properties": {"times": times}}})
    assert answer.status_code == 201, answer.get_json()
    points = _track_file_points(session)
    assert [point.source for point in points] == ["geojson"] * 4
    assert [point.fixed_at for point in points] == [start + timedelta(minutes=minute) for minute in range(4)]
    assert "jump" in points[2].flags and points[1].flags == []
