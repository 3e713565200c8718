"""Onboarding a station's volunteers: CSV import, one-time invitations, resets by the station manager, the admin's form."""
from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa

from gridsvc.auth.models import AccountInvitation, User
from gridsvc.grids.models import Grid
from gridsvc.people.models import Patroller
from tests.auth.conftest import csrf_token_of, sign_in_form

STATION_1, STATION_2 = "350600001001", "350600001002"
NEW_PASSWORD = "quiet harbour lantern 42 moss"
ROLE_CODES = ("volunteer", "grid_worker", "station_manager", "centre_viewer", "manager", "admin")


def _volunteers_without_account(session, station_code: str, count: int) -> list[Patroller]:
    has_account = sa.select(User.patroller_id).where(User.patroller_id.is_not(None))
    return list(session.scalars(
        sa.select(Patroller).join(Grid, Patroller.station_id == Grid.id)
        .where(Grid.code == station_code, Patroller.role == "volunteer", Patroller.app_account_id.is_not(None),
               Patroller.id.not_in(has_account))
        .order_by(Patroller.id).limit(count)))


def _user_count(session) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(User))


def _import(client, token: str, text: str):
    return client.post("/api/v1/users/import", data=text.encode(), content_type="text/csv",
                       headers={"Authorization": f"Bearer {token}"})


def _csv(*rows: str) -> str:
    return "account,username,display_name\n" + "\n".join(rows) + "\n"


def test_import_is_all_or_nothing_and_lists_each_refused_row(app, session, token_for):
    first, second = _volunteers_without_account(session, STATION_1, 2)
    before = _user_count(session)
    text = _csv(f"{first.app_account_id},,", "XLXQ999999,,", f"{second.app_account_id},,", f"{first.app_account_id},x,")
    response = _import(app.test_client(), token_for("station1"), text)
    assert response.status_code == 422
    body = response.get_json()
    assert body["error"]["code"] == "import_refused" and body["created"] == [] and body["unchanged"] == []
    errors = {error["row"]: error for error in body["errors"]}
    assert sorted(errors) == [3, 5]  # the header is row 1
    assert errors[3]["code"] == "patroller_not_found" and "XLXQ999999" in errors[3]["message"]
    assert errors[5]["code"] == "import_account_repeated" and "第 2 行" in errors[5]["message"]
    assert "未导入" in body["error"]["message"]  # Chinese by default
    session.expire_all()
    assert _user_count(session) == before  # nothing written, not even the good rows


def test_reimporting_the_same_file_changes_nothing(app, session, token_for):
    first, second = _volunteers_without_account(session, STATION_1, 2)
    text = _csv(f"{first.app_account_id},,", f"{second.app_account_id},vol-{second.id},Someone Else")
    token = token_for("station1")
    created = _import(app.test_client(), token, text)
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert [row["username"] for row in body["created"]] == [first.app_account_id.lower(), f"vol-{second.id}"]
    assert body["created"][0]["display_name"] == first.name
    session.expire_all()
    user = session.scalar(sa.select(User).where(User.patroller_id == first.id))
    assert user.role == "volunteer" and user.station_id == first.station_id and user.active
    count = _user_count(session)
    again = _import(app.test_client(), token, text)
    assert again.status_code == 200
    assert again.get_json()["created"] == [] and len(again.get_json()["unchanged"]) == 2
    session.expire_all()
    assert _user_count(session) == count
    # An imported account has no password anyone can sign in with, until the volunteer sets one.
    response = app.test_client().post("/api/v1/auth/tokens", json={"username": user.username, "password": "!unset"})
    assert response.status_code == 401


def test_a_station_manager_imports_only_their_stations_volunteers(app, session, token_for):
    (other,) = _volunteers_without_account(session, STATION_2, 1)
    refused = _import(app.test_client(), token_for("station1"), _csv(f"{other.app_account_id},,"))
    assert refused.status_code == 422
    (error,) = refused.get_json()["errors"]
    missing = _import(app.test_client(), token_for("station1"), _csv("XLXQ424242,,")).get_json()["errors"][0]
    # Another station's volunteer answers exactly as one who does not exist.
    assert error["code"] == missing["code"] == "patroller_not_found"
    assert error["message"].replace(other.app_account_id, "X") == missing["message"].replace("XLXQ424242", "X")
    # The admin imports for any station; the station manager of 002 for their own.
    assert _import(app.test_client(), token_for("station2"), _csv(f"{other.app_account_id},,")).status_code == 201


def test_the_import_is_for_station_managers_and_admins(app, token_for, session):
    (first,) = _volunteers_without_account(session, STATION_1, 1)
    for username in ("worker1", "volunteer1", "manager", "viewer"):
        assert _import(app.test_client(), token_for(username), _csv(f"{first.app_account_id},,")).status_code == 403


def test_the_page_imports_a_file_and_shows_the_result(client_as, session):
    first, second = _volunteers_without_account(session, STATION_1, 2)
    page = client_as("station1")
    import io

    def upload(text):
        return page.post("/station/accounts", data={"action": "import", "file": (io.BytesIO(text.encode()), "v.csv")},
                         content_type="multipart/form-data")
    response = upload(_csv(f"{first.app_account_id},,", "nobody-here,,"))
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "未导入" in html and "nobody-here" in html
    response = upload(_csv(f"{first.app_account_id},,", f"{second.app_account_id},,"))
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and html.count("已创建") >= 2, html
    assert "已创建 2 个账户" in html
    response = upload(_csv(f"{first.app_account_id},,", f"{second.app_account_id},,"))
    assert response.get_data(as_text=True).count("未变") >= 2


def _invite(page, username: str) -> str:
    response = page.post("/station/accounts", data={"action": "invite", "username": username})
    assert response.status_code == 200, response.get_data(as_text=True)
    html = response.get_data(as_text=True)
    assert "<svg" in html  # the QR code, drawn on the server
    return re.search(r'<code class="invitation-link">([^<]+)</code>', html)[1]


def _csrf_on(app):
    """From here on this test's clients need CSRF tokens, as browsers in production (csrf_off restores it)."""
    app.config["WTF_CSRF_ENABLED"] = True
    return app.test_client()


def test_an_invitation_sets_the_password_once_and_signs_nobody_in(app, session, client_as):
    (person,) = _volunteers_without_account(session, STATION_1, 1)
    page = client_as("station1")
    created = page.post("/station/accounts", data={"action": "create", "account": person.app_account_id})
    assert created.status_code == 302
    assert "已创建" in page.get(created.headers["Location"]).get_data(as_text=True)
    username = person.app_account_id.lower()
    link = _invite(page, username)
    assert link.startswith("http://localhost/invite/")
    token = link.rsplit("/", 1)[1]
    assert len(token) >= 22  # at least 128 random bits
    session.expire_all()
    stored = session.scalar(sa.select(AccountInvitation).join(User, AccountInvitation.user_id == User.id)
                            .where(User.username == username))
    assert stored.token_hash != token and token not in stored.token_hash and stored.used_at is None
    # The audit trail never holds the token (nor its hash).
    from gridsvc.audit.models import AuditEntry

    trail = " ".join(str(entry.after) for entry in session.scalars(
        sa.select(AuditEntry).where(AuditEntry.table_name == "account_invitations")))
    assert token not in trail and stored.token_hash not in trail

    browser = _csrf_on(app)
    form = browser.get(f"/invite/{token}")
    assert form.status_code == 200 and username in form.get_data(as_text=True)
    assert form.headers["Cache-Control"] == "no-store"
    weak = browser.post("/invite", data={"token": token, "password": "aaaaaaaaaa", "password_again": "aaaaaaaaaa",
                                         "csrf_token": csrf_token_of(form.get_data(as_text=True))})
    assert weak.status_code == 422 and "error-message" in weak.get_data(as_text=True)
    done = browser.post("/invite", data={"token": token, "password": NEW_PASSWORD, "password_again": NEW_PASSWORD,
                                         "csrf_token": csrf_token_of(form.get_data(as_text=True))})
    assert done.status_code == 200 and "密码已设置" in done.get_data(as_text=True)
    assert browser.get("/api/v1/auth/me").status_code == 401  # nobody was signed in
    assert sign_in_form(browser, username, NEW_PASSWORD).status_code == 302
    assert browser.get("/api/v1/auth/me").get_json()["username"] == username

    used = app.test_client().get(f"/invite/{token}")
    unknown = app.test_client().get("/invite/not-a-real-token-at-all")
    assert used.status_code == 410 and unknown.status_code == 404

    def message(response):
        return re.search(r"<p>([^<]+)</p>", response.get_data(as_text=True))[1]
    assert message(used) == message(unknown) and "邀请链接" in message(used)


def test_an_expired_or_replaced_invitation_is_refused(app, session, client_as):
    (person,) = _volunteers_without_account(session, STATION_1, 1)
    page = client_as("station1")
    page.post("/station/accounts", data={"action": "create", "account": person.app_account_id})
    username = person.app_account_id.lower()
    first = _invite(page, username).rsplit("/", 1)[1]
    second = _invite(page, username).rsplit("/", 1)[1]
    browser = _csrf_on(app)
    assert browser.get(f"/invite/{first}").status_code == 410  # re-issuing voided the first
    assert browser.get(f"/invite/{second}").status_code == 200
    session.expire_all()
    live = session.scalar(sa.select(AccountInvitation).where(AccountInvitation.used_at.is_(None),
                                                             AccountInvitation.voided_at.is_(None)))
    live.expires_at = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1)
    session.commit()
    expired = browser.get(f"/invite/{second}")
    assert expired.status_code == 410
    form_token = csrf_token_of(browser.get("/login").get_data(as_text=True))
    posted = browser.post("/invite", data={"token": second, "password": NEW_PASSWORD, "csrf_token": form_token})
    assert posted.status_code == 410


def test_invitations_stay_within_the_station(client_as, session):
    assert client_as("station2").post("/station/accounts",
                                      data={"action": "invite", "username": "volunteer1"}).status_code == 404
    assert client_as("station1").post("/station/accounts",
                                      data={"action": "invite", "username": "worker1"}).status_code == 404
    assert client_as("worker1").post("/station/accounts",
                                     data={"action": "invite", "username": "volunteer1"}).status_code == 403


def test_a_station_manager_resets_a_volunteers_password_ending_their_sessions_and_tokens(app, client_as, token_for):
    volunteer_page = client_as("volunteer1")
    volunteer_token = token_for("volunteer1")
    api = app.test_client()
    assert volunteer_page.get("/api/v1/auth/me").status_code == 200
    assert api.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {volunteer_token}"}).status_code == 200

    refused = client_as("station2").post("/station/accounts", data={
        "action": "reset_password", "username": "volunteer1", "password": NEW_PASSWORD})
    assert refused.status_code == 404  # another station's volunteer: not there
    assert volunteer_page.get("/api/v1/auth/me").status_code == 200

    manager = client_as("station1")
    link = _invite(manager, "volunteer1")
    response = manager.post("/station/accounts", data={"action": "reset_password", "username": "volunteer1",
                                                        "password": NEW_PASSWORD})
    assert response.status_code == 302
    assert "volunteer1" in manager.get(response.headers["Location"]).get_data(as_text=True)
    assert volunteer_page.get("/api/v1/auth/me").status_code == 401
    assert api.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {volunteer_token}"}).status_code == 401
    token = api.post("/api/v1/auth/tokens", json={"username": "volunteer1", "password": NEW_PASSWORD})
    assert token.status_code == 201
    assert api.get(link.replace("http://localhost", "")).status_code == 410  # the reset voided the open link


def test_the_station_page_lists_its_volunteers_and_accounts(client_as, session):
    html = client_as("station1").get("/station/accounts").get_data(as_text=True)
    own = session.scalars(sa.select(Patroller.name).join(Grid, Patroller.station_id == Grid.id)
                          .where(Grid.code == STATION_1, Patroller.role == "volunteer")).all()
    other = session.scalars(sa.select(Patroller.app_account_id).join(Grid, Patroller.station_id == Grid.id)
                            .where(Grid.code == STATION_2, Patroller.role == "volunteer")).all()
    assert all(name in html for name in own[:5]) and "volunteer1" in html
    assert not any(account in html for account in other if account)
    admin = client_as("admin").get(f"/station/accounts?station={STATION_2}").get_data(as_text=True)
    assert any(account in admin for account in other if account)


@pytest.mark.parametrize("username,shown", [("station1", True), ("station2", True), ("admin", True),
                                            ("worker1", False), ("volunteer1", False), ("manager", False)])
def test_the_menu_offers_the_station_page_to_station_managers_and_admins(client_as, username, shown):
    assert ('href="/station/accounts"' in client_as(username).get("/").get_data(as_text=True)) is shown


def test_the_admin_links_an_account_by_account_number_and_picks_the_station(client, session):
    (person,) = _volunteers_without_account(session, STATION_1, 1)
    station = session.get(Grid, person.station_id)
    form = client.get("/users").get_data(as_text=True)
    choice = f"{person.name} · {person.app_account_id} · {station.name}"
    assert f'<option value="{choice}">' in form and f'<option value="{STATION_1}">{station.name}</option>' in form
    response = client.post("/users", data={"action": "create", "username": "newvol", "role": "volunteer",
                                           "patroller": choice, "station_code": STATION_1,
                                           "password": NEW_PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)
    session.expire_all()
    user = session.scalar(sa.select(User).where(User.username == "newvol"))
    assert user.patroller_id == person.id and user.station_id == station.id and user.display_name == person.name
    # The bare account number works too, and the station defaults to the person's own.
    (other,) = _volunteers_without_account(session, STATION_2, 1)
    response = client.post("/users", data={"action": "create", "username": "newvol2", "role": "volunteer",
                                           "patroller": other.app_account_id, "password": NEW_PASSWORD})
    assert response.status_code == 302
    session.expire_all()
    assert session.scalar(sa.select(User.patroller_id).where(User.username == "newvol2")) == other.id


def test_no_message_names_a_role_code_or_an_internal_id(client, session):
    def error_of(**form):
        response = client.post("/users", data={"action": "create", "password": NEW_PASSWORD, **form})
        assert response.status_code in (404, 409, 422)
        return re.search(r'class="error-message" role="alert">([^<]+)<', response.get_data(as_text=True))[1]

    messages = [
        error_of(username="w9", role="grid_worker"),
        error_of(username="v9", role="volunteer"),
        error_of(username="m9", role="manager", station_code=STATION_1),
        error_of(username="v8", role="volunteer", patroller="Nobody Such Person"),
    ]
    assert "专职网格员" in messages[0] and "志愿者" in messages[1] and "管理人员" in messages[2], messages
    for message in messages:
        assert not any(re.search(rf"\b{code}\b", message) for code in ROLE_CODES), message
    volunteer1 = session.scalar(sa.select(User).where(User.username == "volunteer1"))
    taken = error_of(username="v7", role="volunteer", patroller=str(
        session.get(Patroller, volunteer1.patroller_id).app_account_id))
    assert str(volunteer1.patroller_id) not in taken


def test_an_admins_password_reset_voids_an_outstanding_invitation(app, session):
    """A link handed out earlier must not later override the password an admin has just set."""
    import datetime as dt

    import sqlalchemy as sa

    from gridsvc.auth import service as auth_service
    from gridsvc.auth.models import AccountInvitation, User

    user = session.scalar(sa.select(User).where(User.username == "volunteer1"))
    session.add(AccountInvitation(user_id=user.id, token_hash="0" * 64,
                                  expires_at=dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)))
    session.flush()
    auth_service.set_password(session, username="volunteer1", password="Lantern-orchard-91-quietly")
    session.flush()
    invitation = session.scalar(sa.select(AccountInvitation).where(AccountInvitation.token_hash == "0" * 64))
    assert invitation.voided_at is not None
