"""Role × station × endpoint: every endpoint declares a policy, and the server enforces it for every role.

The sweep enumerates app.url_map, so an endpoint added later without a policy fails here, and one
whose declared roles aren't enforced fails too. Station scoping is checked on the data itself:
station users see only their own station's rows, and another station's ids answer 404.
"""
from __future__ import annotations

import pytest

from gridsvc.access import allows, policy_of

# The seeded demo accounts (seed/loader.py → gridsvc.auth.service.seed_demo_users).
ACCOUNTS = {
    "admin": "admin", "manager": "manager", "viewer": "centre_viewer", "station1": "station_manager",
    "worker1": "grid_worker", "volunteer1": "volunteer", "station2": "station_manager",
}
STATION_1, STATION_2 = "350600001001", "350600001002"


def _is_static(endpoint: str) -> bool:
    return endpoint == "static" or endpoint.endswith(".static")


def _rules(app):
    return [rule for rule in app.url_map.iter_rules() if not _is_static(rule.endpoint)]


def _sample_url(app, rule) -> str | None:
    """A URL of the rule with placeholder arguments (None when its converters refuse them)."""
    from werkzeug.routing import BuildError

    values = {name: 1 if "int" in type(rule._converters[name]).__name__.lower() else "1"
              for name in rule.arguments}
    try:
        return app.url_map.bind("localhost").build(rule.endpoint, values, method=sorted(rule.methods)[0])
    except BuildError:
        return None


def test_every_endpoint_declares_a_policy(app):
    missing = sorted(f"{rule.rule} ({rule.endpoint})" for rule in _rules(app)
                     if policy_of(app.view_functions[rule.endpoint]) is None)
    assert not missing, "endpoints without @public/@require_roles/@signed_in (only admin can call them): " + ", ".join(missing)


def test_every_protected_endpoint_refuses_anonymous_callers(app):
    anonymous = app.test_client()
    for rule in _rules(app):
        policy = policy_of(app.view_functions[rule.endpoint])
        if policy is not None and policy.public:
            continue
        url = _sample_url(app, rule)
        if url is None:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = anonymous.open(url, method=method)
            if url.startswith("/api/"):
                assert response.status_code == 401, (method, url, response.status_code)
                assert response.get_json()["error"]["code"] == "unauthorized"
            else:
                assert response.status_code == 302 and "/login" in response.headers["Location"], (method, url)


def test_a_wrong_bearer_token_is_refused_not_ignored(client):
    response = client.get("/api/v1/grids", headers={"Authorization": "Bearer not-a-token"})
    assert response.status_code == 401


@pytest.mark.parametrize("username", sorted(ACCOUNTS))
def test_declared_roles_are_enforced_on_every_parameterless_get(app, client_as, token_for, username):
    """Each role gets 403 exactly where its role isn't allowed, on every GET endpoint without parameters."""
    role = ACCOUNTS[username]
    page_client = client_as(username)
    headers = {"Authorization": f"Bearer {token_for(username)}"}
    for rule in _rules(app):
        if "GET" not in rule.methods or rule.arguments:
            continue
        policy = policy_of(app.view_functions[rule.endpoint])
        if rule.rule.startswith("/api/"):
            response = page_client.get(rule.rule, headers=headers)
        else:
            response = page_client.get(rule.rule)
        if allows(policy, role):
            assert response.status_code not in (401, 403), (username, rule.rule, response.status_code)
        else:
            assert response.status_code == 403, (username, rule.rule, response.status_code)


# Expected answers of the endpoints that existed before accounts (and of accounts' own), per account.
EXPECTED = {
    "GET /": {"admin": 200, "manager": 200, "viewer": 200, "station1": 200, "worker1": 200, "volunteer1": 200,
              "station2": 200},
    "GET /api/v1/grids": dict.fromkeys(ACCOUNTS, 200),
    f"GET /api/v1/grids/{STATION_1[:9]}/coverage": {"admin": 200, "manager": 200, "viewer": 200, "station1": 403,
                                                    "worker1": 403, "volunteer1": 403, "station2": 403},
    "GET /api/v1/cameras": {"admin": 200, "manager": 200, "viewer": 200, "station1": 200, "worker1": 200,
                            "volunteer1": 403, "station2": 200},
    "GET /api/v1/auth/me": dict.fromkeys(ACCOUNTS, 200),
    "GET /api/v1/users": {name: 200 if role == "admin" else 403 for name, role in ACCOUNTS.items()},
    "GET /api/v1/audit": {name: 200 if role == "admin" else 403 for name, role in ACCOUNTS.items()},
    "GET /audit": {name: 200 if role == "admin" else 403 for name, role in ACCOUNTS.items()},
    "GET /users": {name: 200 if role == "admin" else 403 for name, role in ACCOUNTS.items()},
    "GET /station/accounts": {name: 200 if role in ("admin", "station_manager") else 403
                              for name, role in ACCOUNTS.items()},
    "GET /invite/not-a-token": dict.fromkeys(ACCOUNTS, 404),
}


@pytest.mark.parametrize("request_line", sorted(EXPECTED))
def test_expected_status_per_account(client_as, token_for, request_line):
    method, path = request_line.split(" ", 1)
    for username, status in EXPECTED[request_line].items():
        if path.startswith("/api/"):
            response = client_as(username).open(path, method=method,
                                                headers={"Authorization": f"Bearer {token_for(username)}"})
        else:
            response = client_as(username).open(path, method=method)
        assert response.status_code == status, (username, request_line, response.status_code)


def _codes(features, key):
    return {feature["properties"][key] for feature in features}


@pytest.mark.parametrize("username,station", [("station1", STATION_1), ("worker1", STATION_1),
                                              ("volunteer1", STATION_1), ("station2", STATION_2)])
def test_station_users_read_only_their_station(client_as, username, station):
    user_client = client_as(username)
    grids = user_client.get("/api/v1/grids").get_json()["features"]
    stations = {f["properties"]["code"] for f in grids if f["properties"]["level"] == "station"}
    assert stations == {station}
    assert all(f["properties"]["code"].startswith(station) or f["properties"]["level"] == "centre" for f in grids)
    cameras = user_client.get("/api/v1/cameras")
    if username != "volunteer1":
        features = cameras.get_json()["features"]
        assert features and _codes(features, "station_code") == {station}


@pytest.mark.parametrize("username", ["admin", "manager", "viewer"])
def test_zone_wide_roles_read_every_station(client_as, username):
    grids = client_as(username).get("/api/v1/grids?level=station").get_json()["features"]
    assert len(grids) == 15
    cameras = client_as(username).get("/api/v1/cameras").get_json()["features"]
    assert len(_codes(cameras, "station_code")) == 15


def _cell(west, south, size=0.0001):
    return {"type": "Polygon", "coordinates": [[[west, south], [west + size, south], [west + size, south + size],
                                                 [west, south + size], [west, south]]]}


def _point_in(client, code):
    from shapely.geometry import shape

    feature = next(f for f in client.get("/api/v1/grids?level=station").get_json()["features"]
                   if f["properties"]["code"] == code)
    point = shape(feature["geometry"]).representative_point()
    return point.x, point.y


def test_station_manager_writes_only_inside_their_station(client, client_as):
    lon, lat = _point_in(client, STATION_1)
    own = {"name": "矩阵测试单元", "level": "cell", "parent_code": STATION_1, "geometry": _cell(lon, lat)}
    other = {**own, "parent_code": STATION_2}
    station1 = client_as("station1")
    assert station1.post("/api/v1/grids", json=other).status_code == 404  # another station: as if absent
    assert station1.post("/api/v1/grids", json={**own, "level": "station", "parent_code": STATION_1[:9]}).status_code == 403
    assert client_as("viewer").post("/api/v1/grids", json=own).status_code == 403
    assert client_as("worker1").post("/api/v1/grids", json=own).status_code == 403
    created = station1.post("/api/v1/grids", json=own)
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["code"].startswith(STATION_1)
