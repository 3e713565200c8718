"""Who sees the completion figures: zone-wide roles read them, station managers their station's (see
test_station_scope.py), managers set targets, grid workers and volunteers are refused."""
from __future__ import annotations

import pytest

READ = ["/dashboard?period=2020-03", "/api/v1/completion?period=2020-03&group_by=kind",
        "/api/v1/completion.csv?period=2020-03&table=kind", "/api/v1/targets"]


@pytest.mark.parametrize("username", ["manager", "viewer", "station1"])
def test_managers_centre_viewers_and_station_managers_read_the_figures(client_as, username):
    reader = client_as(username)
    for path in READ:
        assert reader.get(path).status_code == 200, path


@pytest.mark.parametrize("username", ["worker1", "volunteer1"])
def test_other_roles_are_refused(client_as, username):
    other = client_as(username)
    for path in READ:
        assert other.get(path).status_code == 403, path


def test_only_managers_set_targets(client_as):
    body = {"period": "2031", "quota_hours": 6}
    assert client_as("viewer").post("/api/v1/targets", json=body).status_code == 403
    created = client_as("manager").post("/api/v1/targets", json=body)
    assert created.status_code == 201
    assert client_as("viewer").delete(f"/api/v1/targets/{created.get_json()['id']}").status_code == 403
    assert client_as("manager").delete(f"/api/v1/targets/{created.get_json()['id']}").status_code == 204
