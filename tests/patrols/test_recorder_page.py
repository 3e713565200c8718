"""The phone recorder's server side (issue 20): its page and service worker, and a trimmed end kept and audited."""
from __future__ import annotations

import datetime as dt
import json
import math
import re
import uuid

import sqlalchemy as sa

from gridsvc.audit.models import AuditEntry
from gridsvc.grids.models import Grid
from gridsvc.patrols.models import PatrolSession

STATION = "350600001001"  # volunteer1's


def _config(html: str) -> dict:
    return json.loads(re.search(r'<script type="application/json" id="recorder-config">(.*?)</script>', html, re.S)[1])


def test_the_recorder_page_is_the_signed_in_patrollers_with_their_station_and_signed_up_tasks(app, session, client_as):
    from gridsvc.patrols import service

    now = dt.datetime.now(dt.timezone.utc)
    station_id = session.scalar(sa.select(Grid.id).where(Grid.code == STATION))
    tonight = service.create_task(session, title="今晚群防", station_id=station_id, headcount=3,
                                  starts_at=now + dt.timedelta(hours=1), ends_at=now + dt.timedelta(hours=3))
    service.create_task(session, title="下周群防", station_id=station_id, headcount=3,
                        starts_at=now + dt.timedelta(days=7), ends_at=now + dt.timedelta(days=7, hours=2))
    service.sign_up(session, task_id=tonight.id, patroller_id=session.scalar(
        sa.text("SELECT patroller_id FROM users WHERE username = 'volunteer1'")), now=now)
    session.commit()
    page = client_as("volunteer1").get("/patrols/record")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-testid="patrol-start"' in html and 'data-testid="patrol-stop"' in html
    assert "GPS 巡逻" in html and "XLXQ000018" in html
    config = _config(html)
    assert config["patroller"] == str(session.scalar(
        sa.text("SELECT patroller_id FROM users WHERE username = 'volunteer1'")))
    assert config["station"]["code"] == STATION and config["station"]["area"]["type"] in ("Polygon", "MultiPolygon")
    # Only the task signed up for and running within 12 hours is offered.
    assert [task["title"] for task in config["tasks"]] == ["今晚群防"]
    assert config["idle"] == {"minutes": 20, "radius_m": 50, "answer_minutes": 5}
    # Every script and stylesheet is the site's own.
    assert not re.search(r'(src|href)="(https?:)?//', html)
    english = client_as("volunteer1").get("/patrols/record?lang=en").get_data(as_text=True)
    assert "Record a patrol" in english and "needs https" in english


def test_an_account_without_a_patroller_is_told_the_recorder_is_for_patrollers(client_as):
    page = client_as("manager").get("/patrols/record")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "不是志愿者或网格员" in html and "recorder-config" not in html


def test_the_service_worker_caches_the_shell_the_site_serves_and_nothing_from_outside(app, client_as):
    anonymous = app.test_client()
    worker = anonymous.get("/patrols/record-sw.js")
    assert worker.status_code == 200 and worker.mimetype == "text/javascript"
    source = worker.get_data(as_text=True)
    shell = json.loads(re.search(r"const SHELL = (\[.*?\]);", source)[1])
    assert "/patrols/record" in shell and "/static/npm/idb/index.js" in shell
    assert any(name.endswith("leaflet.js") for name in shell)
    for path in shell[1:]:
        assert anonymous.get(path).status_code == 200, path
    assert "http://" not in source and "https://" not in source
    # A new release of a shell file is a new cache.
    version = re.search(r"gridsvc-recorder-(\w+)", source)[1]
    assert len(version) == 16


def _recorder_walk(app, session, client_as):
    key = client_as("volunteer1").post("/api/v1/devices", json={"name": "recorder"}).get_json()["key"]
    phone = app.test_client()
    started = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(hours=1)
    body = {"device_id": key, "client_uuid": str(uuid.uuid4()), "kind": "individual", "start": started.isoformat()}
    assert phone.post("/api/v1/patrols/recorder", json=body).status_code == 200
    centre = session.scalar(sa.select(sa.func.ST_AsText(sa.func.ST_PointOnSurface(Grid.geom))).where(Grid.code == STATION))
    lon0, lat0 = (float(v) for v in centre.removeprefix("POINT(").rstrip(")").split())
    points = [{"timestamp": (started + dt.timedelta(seconds=s)).isoformat(),
               "coords": {"latitude": lat0, "longitude": lon0 + 0.5 * s / (111_320 * math.cos(math.radians(lat0))),
                          "accuracy": 5}} for s in range(0, 1201, 10)]
    assert phone.post("/api/v1/positions/recorder", json={"device_id": key, "location": points}).status_code == 200
    return phone, body, started, (lon0, lat0)


def test_a_trimmed_end_is_kept_with_the_patrol_and_is_in_the_audit_trail(app, session, client_as):
    phone, body, started, (lon0, lat0) = _recorder_walk(app, session, client_as)
    end, tapped = started + dt.timedelta(seconds=900), started + dt.timedelta(seconds=1800)
    backwards = phone.post("/api/v1/patrols/recorder", json={**body, "end": tapped.isoformat(),
                                                              "trimmed_from": end.isoformat()})
    assert backwards.status_code == 422 and "修剪" in backwards.get_json()["error"]["message"]
    stopped = phone.post("/api/v1/patrols/recorder", json={**body, "end": end.isoformat(),
                                                            "trimmed_from": tapped.isoformat()}).get_json()
    assert stopped["claimed_seconds"] == 900 and stopped["verified_seconds"] == 900
    assert dt.datetime.fromisoformat(stopped["verification"]["trimmed_from"]) == tapped
    session.expire_all()
    patrol = session.scalar(sa.select(PatrolSession).where(PatrolSession.client_uuid == body["client_uuid"]))
    rows = session.scalars(sa.select(AuditEntry).where(AuditEntry.table_name == "patrol_sessions",
                                                       AuditEntry.row_id == str(patrol.id))
                           .order_by(AuditEntry.id)).all()
    trimmed = [row for row in rows if (row.after or {}).get("verification", {}).get("trimmed_from")]
    assert trimmed, [row.after for row in rows]
    assert dt.datetime.fromisoformat(trimmed[-1].after["verification"]["trimmed_from"]) == tapped
    # The stop's own row holds the trimmed end (an update row holds the columns it changed).
    assert any(str((row.after or {}).get("ended_at", "")).startswith(end.strftime("%Y-%m-%dT%H:%M:%S"))
               for row in rows), [row.after for row in rows]
    for row in rows:
        text = json.dumps([row.before, row.after])
        assert f"{lon0:.5f}" not in text and f"{lat0:.5f}" not in text and body["device_id"] not in text
