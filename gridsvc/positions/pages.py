"""The tracker pages (phone first): my trackers, Traccar Client set-up by QR code, the on-duty switch.

Views are thin: read the form, call gridsvc.positions.service, render. A device key appears only
in the set-up page that made it (never in one of our URLs, a flash message or a log line), and
that page is never cached.
"""
from __future__ import annotations

from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from gridsvc.access import ensure_own_record, own_patroller_id, require_roles, visible_station_ids
from gridsvc.auth.web import safe_next
from gridsvc.db import utcnow
from gridsvc.errors import DomainError, NotFoundError, ValidationError
from gridsvc.people.models import Patroller
from gridsvc.people.service import visible_patroller
from gridsvc.positions import service
from gridsvc.positions.models import Device
from gridsvc.web import db, error_dict

blueprint = Blueprint("positions_pages", __name__)

# As the devices API: a volunteer their own trackers, station roles their station's patrollers',
# managers anyone's. The on-duty switch is one's own (accounts that are a patroller).
PAGE_ROLES = ("volunteer", "grid_worker", "station_manager", "manager")
PLATFORMS = ("Android", "iOS")


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])


def _shown(moment) -> str | None:
    return None if moment is None else moment.astimezone(_zone()).strftime("%Y-%m-%d %H:%M")


def _ref(patroller: Patroller) -> str:
    return patroller.app_account_id or str(patroller.id)


def _chosen_patroller(ref: str) -> Patroller | None:
    """Whose trackers: `ref` (within the caller's scope), else the caller's own; None: everyone in scope."""
    if ref:
        return visible_patroller(db(), user=current_user, ref=ref)
    if current_user.patroller_id is not None:
        return db().get(Patroller, current_user.patroller_id)
    return None


def _patroller_choices() -> list[Patroller]:
    """The people the caller may pick (none for a volunteer: only themselves)."""
    if own_patroller_id(current_user) is not None:
        return []
    query = sa.select(Patroller).order_by(Patroller.role.desc(), Patroller.app_account_id, Patroller.id)
    stations = visible_station_ids(current_user)
    if stations is not None:
        query = query.where(Patroller.station_id.in_(sorted(stations)))
    return list(db().scalars(query))


def _visible_device(device_id: int) -> Device:
    """The device, if the caller may see its patroller's records; else "no such device", as for a missing one."""
    device = service.get_device(db(), device_id=device_id)
    ensure_own_record(current_user, station_id=device.patroller.station_id, patroller_id=device.patroller_id,
                      missing=service.device_not_found(device_id))
    return device


def _back_to(device: Device) -> str:
    """The devices page of the device's patroller (the caller's own page needs no ?volunteer=)."""
    if device.patroller_id == current_user.patroller_id:
        return url_for("positions_pages.devices_page")
    return url_for("positions_pages.devices_page", volunteer=_ref(device.patroller))


def _render_devices(*, ref: str, form: dict | None = None, error: str | None = None, status: int = 200):
    patroller = None
    devices: list[Device] = []
    try:
        patroller = _chosen_patroller(ref)
        devices = service.list_devices(db(), station_ids=visible_station_ids(current_user),
                                       patroller_id=patroller.id if patroller else own_patroller_id(current_user))
    except DomainError as lookup_error:
        error, status = error_dict(lookup_error)["message"], lookup_error.http_status
    return render_template(
        "positions/devices.html", devices=devices, patroller=patroller, volunteer_ref=ref,
        choices=_patroller_choices(), only_me=own_patroller_id(current_user) is not None,
        form=form or {"name": "", "platform": "", "volunteer": ref or (_ref(patroller) if patroller else "")},
        platforms=PLATFORMS, shown=_shown, error=error,
    ), status


@blueprint.get("/devices")
@require_roles(*PAGE_ROLES)
def devices_page():
    """My trackers: each device's state, register one, set up Traccar Client, revoke; the on-duty switch."""
    return _render_devices(ref=(request.args.get("volunteer") or "").strip())


@blueprint.post("/devices")
@require_roles(*PAGE_ROLES)
def register_device_form():
    """Register a tracker (the caller's own, or a picked patroller's), then show its set-up code at once."""
    form = {key: (request.form.get(key) or "").strip() for key in ("name", "platform", "volunteer")}
    try:
        if not form["volunteer"] and current_user.patroller_id is None:
            raise ValidationError("device_owner_required",
                                  "Choose whose tracker this is: a volunteer-app account number")
        patroller = _chosen_patroller(form["volunteer"])
        device, key = service.register_device(db(), patroller=patroller, name=form["name"],
                                              platform=form["platform"])
    except DomainError as error:
        db().rollback()
        return _render_devices(ref=form["volunteer"], form=form, error=error_dict(error)["message"],
                               status=error.http_status)
    flash(gettext("Tracker “%(name)s” registered.", name=device.name))
    return _setup_page(device, key)


@blueprint.post("/devices/<int:device_id>/setup")
@require_roles(*PAGE_ROLES)
def setup_device_form(device_id: int):
    """A new key for the device and its Traccar Client set-up code; the old key stops at once."""
    device = _visible_device(device_id)
    key = service.rotate_key(db(), device=device)
    return _setup_page(device, key)


@blueprint.post("/devices/<int:device_id>/revoke")
@require_roles(*PAGE_ROLES)
def revoke_device_form(device_id: int):
    """Revoke a device (after the page's confirmation): its key stops working at once."""
    device = service.revoke_device(db(), device=_visible_device(device_id))
    flash(gettext("Tracker “%(name)s” revoked: it can no longer send positions.", name=device.name))
    return redirect(_back_to(device), 303)


def _is_local_only(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return host in ("localhost", "127.0.0.1", "::1") or host.endswith(".localhost")


def _setup_page(device: Device, key: str):
    """The set-up page: QR code, link and plain values; it holds a live key, so no cache may keep it."""
    import segno
    from markupsafe import Markup

    config = current_app.config
    server_url = url_for("positions.osmand_intake", _external=True)
    settings = {"interval": int(config["TRACKER_INTERVAL_SECONDS"]), "distance": int(config["TRACKER_DISTANCE_M"]),
                "accuracy": str(config["TRACKER_ACCURACY"])}
    link = service.provisioning_url(server_url=server_url, key=key, interval_s=settings["interval"],
                                    distance_m=settings["distance"], accuracy=settings["accuracy"])
    qr = Markup(segno.make(link, error="m").svg_inline(scale=4, border=2, title="", omitsize=True))
    response = current_app.make_response(render_template(
        "positions/setup.html", device=device, link=link, qr=qr, server_url=server_url, key=key,
        local_only=_is_local_only(server_url), back=_back_to(device), **settings))
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


# ---------------------------------------------------------------------------------------------
# The on-duty switch: on the devices page and the my-patrols page
# ---------------------------------------------------------------------------------------------


@blueprint.app_template_global("own_duty_state")
def own_duty_state() -> dict | None:
    """The signed-in patroller's on-duty switch for a page (None for accounts that are not a patroller)."""
    if not current_user.is_authenticated or current_user.patroller_id is None:
        return None
    max_hours = float(current_app.config["DUTY_MAX_HOURS"])
    state = service.duty_state(db(), patroller_id=current_user.patroller_id, now=utcnow(), max_hours=max_hours)
    return {"on_duty": state.on_duty, "since": _shown(state.since), "until": _shown(state.until),
            "max_hours": f"{max_hours:g}"}


@blueprint.post("/duty")
@require_roles(*PAGE_ROLES)
def duty_form():
    """Switch one's own duty on or off, then back to the page the switch was on."""
    if current_user.patroller_id is None:
        raise NotFoundError("not_a_patroller", "This account is not a volunteer or grid worker")
    on_duty = request.form.get("on_duty") == "on"
    max_hours = float(current_app.config["DUTY_MAX_HOURS"])
    now = utcnow()
    service.set_duty(db(), patroller_id=current_user.patroller_id, on_duty=on_duty, now=now)
    if on_duty:
        state = service.duty_state(db(), patroller_id=current_user.patroller_id, now=now, max_hours=max_hours)
        flash(gettext("On duty until %(until)s: positions from your trackers are stored.",
                      until=_shown(state.until)))
    else:
        flash(gettext("Off duty: positions from your trackers are no longer stored."))
    return redirect(safe_next(request.form.get("next") or url_for("positions_pages.devices_page")), 303)
