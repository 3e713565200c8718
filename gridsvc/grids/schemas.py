"""The grids API's bodies: what the views read and what they answer, each beside its JSON Schema.

One place per field: a parser or a shaper here, and next to it the schema gridsvc.grids.openapi
puts in the OpenAPI document. The grid collection and a centre's coverage are computed and shaped
by gridsvc.grids.service (the maps, the reports and the CLI take the same dicts), so their schemas
(GRID_COLLECTION, COVERAGE) sit there, beside them. No Flask: the views hand in the decoded body.
"""
from __future__ import annotations

from dataclasses import dataclass

from gridsvc.apidoc import STRING, obj, query, ref
from gridsvc.grids.models import LEVELS, Grid
from gridsvc.grids.service import NAME_MAX

LEVEL = {"type": "string", "enum": list(LEVELS)}


def _stripped_text(max_chars: int) -> str:
    """A regex of text that strip() leaves 1 to max_chars long, without control characters."""
    edge, inner = r"[^\s\x00-\x1f\x7f]", r"[^\x00-\x1f\x7f]"
    return rf"^\s*{edge}(?:{inner}{{0,{max_chars - 2}}}{edge})?\s*$"


# --- GET /api/v1/grids ---------------------------------------------------------------------------

LEVEL_QUERY = query("level", STRING, "only grids of this level: centre, station or cell (another value matches none; "
                                     "empty or absent: every level)")


def parse_level(args) -> str | None:
    """The ?level= filter; empty or absent is every level."""
    return args.get("level") or None


# --- POST /api/v1/grids --------------------------------------------------------------------------

_TEXT_OR_NULL = {"type": ["string", "null"]}
NEW_GRID = obj({
    "name": {"type": "string", "pattern": _stripped_text(NAME_MAX),
             "description": f"unique under its parent; trimmed, 1 to {NAME_MAX} characters, no control characters"},
    "level": {**LEVEL, "description": "a station manager may create only cells, inside their own station"},
    "parent_code": {**_TEXT_OR_NULL, "description": "the parent grid's code: none for a centre, a centre for a "
                                                    "station, a station for a cell"},
    "code": {"type": ["string", "null"], "pattern": r"^[0-9]+$",
             "description": "the parent's code (a centre: REGION_CODE) followed by a STATION_CODE_DIGITS-digit "
                            "sequence number above 0; null or absent: the next free one"},
    "geometry": {**ref("PolygonGeometry"),
                 "description": "valid, inside its parent, not overlapping a sibling; at most MAX_POLYGON_VERTICES"},
}, required=["name", "level", "geometry"])


@dataclass(frozen=True)
class NewGrid:
    """A grid as sent; gridsvc.grids.service.create_grid checks every field."""

    name: object
    level: object
    geometry: object
    parent_code: object
    code: object


def parse_new_grid(payload: dict) -> NewGrid:
    """The fields of a new grid from the JSON object."""
    return NewGrid(name=payload.get("name"), level=payload.get("level"), geometry=payload.get("geometry"),
                   parent_code=payload.get("parent_code"), code=payload.get("code"))


CREATED_GRID = obj({"code": STRING, "name": STRING, "level": LEVEL}, required=["code", "name", "level"])


def created_grid_json(grid: Grid) -> dict:
    """The answer to a created grid."""
    return {"code": grid.code, "name": grid.name, "level": grid.level}
