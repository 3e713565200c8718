"""Record every insert, update and delete the ORM flushes, into audit_log, in the same transaction.

One listener on the Session class covers every model of every domain, present and future, so no
endpoint or service has to remember to audit. The rows go in with one executemany per flush.
ORM bulk UPDATE/DELETE statements (session.execute(update(Model)...)) are recorded too; writes
through a raw Core connection bypass the ORM and are not: gridsvc's services never make them.

Per model, two optional class attributes tune what is written:
- ``__audit_redact__``: columns whose values are secrets (password and token hashes); the trail
  says they changed but stores "[redacted]".
- ``__audit_ignore__``: bookkeeping columns (a token's last use); an update that changes only
  these is not recorded.
- ``__audit_skip__ = True``: the table is not row-audited at all (positions: personal data that
  the trail must never copy; who read them is logged by the reading side instead).
"""
from __future__ import annotations

import base64
import datetime as dt
import decimal
import enum
import hashlib
import uuid

import sqlalchemy as sa
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import NO_VALUE

from gridsvc.audit.context import current_actor

REDACTED = "[redacted]"
_PENDING = "gridsvc_audit_pending"
# A geometry whose WKT is longer than this (a long GPS track) is summarised, not copied.
MAX_GEOMETRY_WKT = 20_000


class AuditLogIsAppendOnly(RuntimeError):
    """Raised on any attempt to change or remove an audit record through the application."""


def _audit_table():
    from gridsvc.audit.models import AuditEntry

    return AuditEntry.__table__


def _is_audit_model(mapper) -> bool:
    return mapper.local_table.name == "audit_log"


def _skipped(mapper) -> bool:
    """A model that opted out of row auditing (``__audit_skip__``)."""
    return bool(getattr(mapper.class_, "__audit_skip__", False))


def _json_value(value):
    """A column value as JSON: dates as ISO text, geometries as WKT (or a summary), bytes as base64."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.timezone.utc).isoformat()  # one zone in the trail, as in the tables
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_json_value(v) for v in value]
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"base64": base64.b64encode(bytes(value)).decode()}
    geometry = _geometry_json(value)
    if geometry is not None:
        return geometry
    return str(value)


def _geometry_json(value):
    try:
        from geoalchemy2.elements import _SpatialElement
        from geoalchemy2.shape import to_shape
    except ImportError:  # pragma: no cover
        return None
    if not isinstance(value, _SpatialElement):
        return None
    try:
        shape = to_shape(value)
    except Exception:  # an SQL function element, not a literal: keep its text
        return {"sql": str(value)}
    wkt = shape.wkt
    if len(wkt) <= MAX_GEOMETRY_WKT:
        return {"srid": value.srid, "wkt": wkt}
    return {
        "srid": value.srid, "type": shape.geom_type, "bounds": list(shape.bounds),
        "points": len(getattr(shape, "coords", [])) or None,
        "wkt_sha256": hashlib.sha256(wkt.encode()).hexdigest(),
    }


def _columns(mapper):
    """(attribute key, column name) of every column property of the mapper."""
    return [(prop.key, prop.columns[0].name) for prop in mapper.column_attrs]


ROW_ID_MAX = 64


def _row_id(mapper, instance) -> str | None:
    identity = mapper.primary_key_from_instance(instance)
    if any(part is None for part in identity):
        return None
    # audit_log.row_id holds 64 characters: a longer key (a login throttle's name) is cut, and stays whole
    # in the row's values.
    return ",".join(str(part) for part in identity)[:ROW_ID_MAX]


def _value(mapper, column_name: str, value):
    if column_name in getattr(mapper.class_, "__audit_redact__", ()):
        return None if value is None else REDACTED
    return _json_value(value)


def _snapshot(mapper, instance) -> dict:
    state = inspect(instance)
    values = {}
    for key, column in _columns(mapper):
        value = state.dict.get(key, NO_VALUE)
        if value is NO_VALUE:  # expired or never loaded: the committed value
            value = state.attrs[key].loaded_value
            if value is NO_VALUE:
                continue
        values[column] = _value(mapper, column, value)
    return values


def _changes(session: Session, mapper, instance) -> tuple[dict, dict]:
    """(before, after) of the columns this flush changes; called before the flush, while the row is old."""
    state = inspect(instance)
    before, after, unknown = {}, {}, []
    for key, column in _columns(mapper):
        history = state.attrs[key].history
        if not history.added:
            continue
        new = history.added[0]
        if history.deleted:
            old = history.deleted[0]
            if _json_value(old) == _json_value(new):
                continue
            before[column] = _value(mapper, column, old)
        else:
            unknown.append((column, new))  # set while expired: the old value is only in the database
        after[column] = _value(mapper, column, new)
    if unknown:
        table = mapper.local_table
        identity = zip(table.primary_key.columns, mapper.primary_key_from_instance(instance))
        stored = session.connection().execute(
            sa.select(*[table.c[column] for column, _new in unknown]).where(*[c == v for c, v in identity])
        ).first()
        for column, new in unknown:
            old = stored._mapping[column] if stored is not None else None
            if stored is not None and _json_value(old) == _json_value(new):
                del after[column]
            else:
                before[column] = _value(mapper, column, old)
    return before, after


def _synced_changes(mapper, instance, before: dict, after: dict) -> None:
    """Add the foreign keys the flush itself set from relationships (camera.station = other)."""
    state = inspect(instance)
    for key, column in _columns(mapper):
        if column in after:
            continue
        history = state.attrs[key].history
        if history.added and history.deleted and _json_value(history.added[0]) != _json_value(history.deleted[0]):
            before[column] = _value(mapper, column, history.deleted[0])
            after[column] = _value(mapper, column, history.added[0])


def _base_row(action: str, table: str, row_id: str | None) -> dict:
    actor = current_actor()
    return {
        "at": dt.datetime.now(dt.timezone.utc), "actor_user_id": actor.user_id, "actor": actor.description[:200],
        "action": action, "table_name": table, "row_id": row_id, "request_id": actor.request_id, "ip": actor.ip,
    }


def _prepare_flush(session: Session, _flush_context, _instances) -> None:
    """Refuse edits of the trail; read the old values of rows about to be updated or deleted."""
    pending = session.info[_PENDING] = []
    for instance in session.deleted:
        mapper = inspect(instance).mapper
        if _is_audit_model(mapper):
            raise AuditLogIsAppendOnly("audit records cannot be changed or deleted")
        if _skipped(mapper):
            continue
        for key, _column in _columns(mapper):
            getattr(instance, key)  # load anything expired now: after the flush the row is gone
        pending.append(("delete", mapper, instance, _snapshot(mapper, instance), None))
    for instance in session.dirty:
        mapper = inspect(instance).mapper
        if not session.is_modified(instance, include_collections=False):
            continue
        if _is_audit_model(mapper):
            raise AuditLogIsAppendOnly("audit records cannot be changed or deleted")
        if _skipped(mapper):
            continue
        before, after = _changes(session, mapper, instance)
        pending.append(("update", mapper, instance, before, after))


def _record_flush(session: Session, _flush_context) -> None:
    """Write one audit row per row the flush inserted, updated or deleted: one executemany."""
    rows = []
    for instance in session.new:
        mapper = inspect(instance).mapper
        if _is_audit_model(mapper) or _skipped(mapper):
            continue
        rows.append({**_base_row("insert", mapper.local_table.name, _row_id(mapper, instance)),
                     "before": None, "after": _snapshot(mapper, instance)})
    for action, mapper, instance, before, after in session.info.pop(_PENDING, []):
        if action == "update":
            _synced_changes(mapper, instance, before, after)
            if set(after) <= set(getattr(mapper.class_, "__audit_ignore__", ())):
                continue
        rows.append({**_base_row(action, mapper.local_table.name, _row_id(mapper, instance)),
                     "before": before, "after": after})
    if rows:
        session.connection().execute(_audit_table().insert(), rows)


def _forget_pending(session: Session) -> None:
    """A failed flush leaves nothing to record."""
    session.info.pop(_PENDING, None)


def _record_bulk_statement(orm_execute_state):
    """ORM bulk UPDATE/DELETE statements skip the flush: read the rows before and after, and record them."""
    if not (orm_execute_state.is_update or orm_execute_state.is_delete):
        return None
    mapper = orm_execute_state.bind_mapper
    if mapper is None:
        return None
    if _is_audit_model(mapper):
        raise AuditLogIsAppendOnly("audit records cannot be changed or deleted")
    if _skipped(mapper):
        return None
    statement = orm_execute_state.statement
    session = orm_execute_state.session
    table = mapper.local_table
    primary_key = list(table.primary_key.columns)
    if len(primary_key) != 1:
        return None
    where = statement.whereclause
    select_rows = sa.select(table)
    if where is not None:
        select_rows = select_rows.where(where)
    before_rows = {row._mapping[primary_key[0].name]: dict(row._mapping)
                   for row in session.connection().execute(select_rows)}
    result = orm_execute_state.invoke_statement()
    if not before_rows:
        return result
    action = "update" if orm_execute_state.is_update else "delete"
    after_rows = {}
    if action == "update":
        after_rows = {row._mapping[primary_key[0].name]: dict(row._mapping) for row in session.connection().execute(
            sa.select(table).where(primary_key[0].in_(list(before_rows))))}
    redacted = getattr(mapper.class_, "__audit_redact__", ())
    ignored = getattr(mapper.class_, "__audit_ignore__", ())

    def clean(column, value):
        return (None if value is None else REDACTED) if column in redacted else _json_value(value)

    records = []
    for key, old in before_rows.items():
        if action == "delete":
            before, after = {c: clean(c, v) for c, v in old.items()}, None
        else:
            new = after_rows.get(key, {})
            changed = [c for c in old if new.get(c) != old[c]]
            if not changed or set(changed) <= set(ignored):
                continue
            before = {c: clean(c, old[c]) for c in changed}
            after = {c: clean(c, new.get(c)) for c in changed}
        records.append({**_base_row(action, table.name, str(key)), "before": before, "after": after})
    if records:
        session.connection().execute(_audit_table().insert(), records)
    return result


LISTENERS = (("before_flush", _prepare_flush), ("after_flush", _record_flush),
             ("after_rollback", _forget_pending), ("do_orm_execute", _record_bulk_statement))


def install() -> None:
    """Register the trail's Session events, once per process (create_app calls it before any session exists)."""
    for name, listener in LISTENERS:
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)
