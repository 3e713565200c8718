"""Building blocks of the OpenAPI 3.1 document that every domain's `openapi.py` shares.

Each domain describes its own routes (its `openapi.py`, from the field schemas of its
`schemas.py`); `gridsvc.api.openapi.openapi_document` merges the parts with `merge_paths`.
Schemas named here (#/components/schemas/…) are defined once, in `COMPONENT_SCHEMAS`.
"""
from __future__ import annotations

import re

ERROR_DESCRIPTIONS = {
    400: "Malformed request",
    401: "Not signed in",
    403: "Not allowed for this role, or CSRF token missing",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict with stored data",
    413: "Request body too large",
    415: "Unsupported media type or content encoding",
    422: "Validation error; nothing was written",
    429: "Too many requests; retry after the Retry-After header's seconds",
    503: "Busy; retry after the Retry-After header's seconds",
}

STRING = {"type": "string"}
INTEGER = {"type": "integer"}
NUMBER = {"type": "number"}
BOOLEAN = {"type": "boolean"}
DATE = {"type": "string", "format": "date"}
DATE_TIME = {"type": "string", "format": "date-time"}
COUNT = {"type": "integer", "minimum": 0}
HOURS_TEXT = {"type": "string", "pattern": r"^-?\d+\.\d\d$", "description": "hours rounded half-up to the cent"}
PERCENT_TEXT = {"type": ["string", "null"], "description": "percent rounded half-up to the cent, null without a target"}

LANG_PARAMETER = {
    "name": "lang", "in": "query", "required": False, "description": "message language",
    "schema": {"type": "string", "enum": ["zh", "en"]},
}
PERIOD_PARAMETERS = [
    {"name": "period", "in": "query", "required": False,
     "description": "2020, 2020-Q1 or 2020-03 (default: the configured period)",
     "schema": {"type": "string", "examples": ["2020", "2020-Q1", "2020-03"]}},
    {"name": "from", "in": "query", "required": False, "description": "first day, inclusive (with to)",
     "schema": DATE},
    {"name": "to", "in": "query", "required": False, "description": "last day, inclusive (with from)",
     "schema": DATE},
]

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "stable machine-readable code"},
                "message": {"type": "string", "description": "Chinese by default, English with ?lang=en"},
                "params": {"type": "object", "additionalProperties": {}, "description":
                           "the values the message names (field, limit, ...)"},
                "errors": {"type": "array", "items": {"type": "object", "additionalProperties": {}}},
            },
        }
    },
}
POSITION = {"type": "array", "minItems": 2, "maxItems": 3, "items": NUMBER}
POLYGON_GEOMETRY = {
    "type": "object",
    "required": ["type", "coordinates"],
    "properties": {
        "type": {"type": "string", "enum": ["Polygon", "MultiPolygon"]},
        # Polygon: rings of positions; MultiPolygon: polygons of rings, one level deeper.
        "coordinates": {"type": "array", "items": {"type": "array", "items": {"type": "array", "items": {
            "oneOf": [NUMBER, {"type": "array", "minItems": 2, "maxItems": 3, "items": NUMBER}]}}}},
    },
    "description": "GeoJSON Polygon or MultiPolygon in WGS-84 longitude/latitude (RFC 7946)",
}
FEATURE_COLLECTION = {
    "type": "object",
    "required": ["type", "features"],
    "properties": {
        "type": {"const": "FeatureCollection"},
        "features": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["type", "properties", "geometry"],
                "properties": {
                    "type": {"const": "Feature"},
                    "properties": {"type": "object", "additionalProperties": {},
                                   "description": "the feature's attributes"},
                    "geometry": {"oneOf": [
                        {"type": "object", "required": ["type", "coordinates"], "properties": {
                            "type": STRING, "coordinates": {"type": "array", "items": {}}}},
                        {"type": "null"}]},
                },
            },
        },
    },
}
COMPONENT_SCHEMAS = {
    "Error": ERROR,
    "Position": POSITION,
    "PolygonGeometry": POLYGON_GEOMETRY,
    "FeatureCollection": FEATURE_COLLECTION,
}


def ref(name: str) -> dict:
    """A reference to one of COMPONENT_SCHEMAS."""
    if name not in COMPONENT_SCHEMAS:
        raise KeyError(name)
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: dict) -> dict:
    """The schema, or JSON null."""
    return {"oneOf": [schema, {"type": "null"}]}


def obj(properties: dict, *, required: list[str] | tuple[str, ...] = (), description: str | None = None,
        closed: bool = False) -> dict:
    """An object schema with its properties; `required` names must be among them."""
    missing = [name for name in required if name not in properties]
    if missing:
        raise ValueError(f"required but not described: {missing}")
    schema: dict = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    if closed:
        schema["additionalProperties"] = False
    if description:
        schema["description"] = description
    return schema


def array(items: dict, **keywords) -> dict:
    """An array schema of the given items (minItems, maxItems … as keywords)."""
    return {"type": "array", "items": items, **keywords}


def json_response(schema: dict, description: str, media_type: str = "application/json") -> dict:
    """One response with a body of this schema."""
    return {"description": description, "content": {media_type: {"schema": schema}}}


def json_body(schema: dict, *, required: bool = True, extra_content: dict | None = None) -> dict:
    """A request body of this JSON schema (plus other media types, e.g. multipart)."""
    content = {"application/json": {"schema": schema}}
    content.update(extra_content or {})
    return {"required": required, "content": content}


def error_responses(*statuses: int) -> dict:
    """Error responses of the given statuses, each the shared Error body."""
    return {
        str(status): {
            "description": ERROR_DESCRIPTIONS[status],
            "content": {"application/json": {"schema": ref("Error")}},
        }
        for status in statuses
    }


def path_parameters(path: str, *, integers: set[str] | frozenset[str] = frozenset(), descriptions=None) -> list[dict]:
    """The path template's parameters: integers ≥ 1 for the names given, strings otherwise."""
    descriptions = descriptions or {}
    parameters = []
    for name in re.findall(r"{([^}]+)}", path):
        parameter = {"name": name, "in": "path", "required": True,
                     "schema": {"type": "integer", "minimum": 1} if name in integers else {"type": "string"}}
        if name in descriptions:
            parameter["description"] = descriptions[name]
        parameters.append(parameter)
    return parameters


def query(name: str, schema: dict, description: str | None = None) -> dict:
    """An optional query parameter."""
    parameter = {"name": name, "in": "query", "required": False, "schema": schema}
    if description:
        parameter["description"] = description
    return parameter


def operation(operation_id: str, summary: str, responses: dict, *, tag: str, parameters=(), body=None,
              security=None) -> dict:
    """One operation of the domain `tag`; every operation takes the `lang` parameter."""
    described = {"operationId": operation_id, "summary": summary, "tags": [tag],
                 "parameters": [*parameters, LANG_PARAMETER], "responses": responses}
    if body is not None:
        described["requestBody"] = body
    if security is not None:
        described["security"] = security
    return described


def merge_paths(*parts: dict) -> dict:
    """One paths object from the domains' parts; an operation described twice is an error."""
    merged: dict = {}
    for part in parts:
        for path, operations in part.items():
            target = merged.setdefault(path, {})
            for method, operation in operations.items():
                if method in target:
                    raise ValueError(f"{method.upper()} {path} is described twice")
                target[method] = operation
    return merged


def loose_schemas(document: dict) -> list[str]:
    """JSON pointers of request/response schemas that say nothing: objects without properties, arrays without items.

    An object describes its members by `properties`, or is a map whose values an explicit
    `additionalProperties` schema describes (`{}` there: deliberately free-form, as an error's params),
    or is the empty object (`properties: {}`, `additionalProperties: false`). A schema without a type
    (`{}`) is a problem unless it is a free-form map value or list item written out as such.
    """
    components = document.get("components", {}).get("schemas", {})
    problems: list[str] = []

    def walk(schema, pointer: str, seen: frozenset[str]) -> None:
        if not isinstance(schema, dict):
            problems.append(f"{pointer}: not a schema")
            return
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            if name not in seen:
                walk(components.get(name), f"#/components/schemas/{name}", seen | {name})
            return
        for combinator in ("oneOf", "anyOf", "allOf"):
            if combinator in schema:
                for index, alternative in enumerate(schema[combinator]):
                    walk(alternative, f"{pointer}/{combinator}/{index}", seen)
                return
        if "const" in schema or "enum" in schema:
            return
        types = schema.get("type")
        types = set(types) if isinstance(types, list) else {types} if types else set()
        if not types:
            problems.append(f"{pointer}: no type")
            return
        if "object" in types:
            properties = schema.get("properties")
            additional = schema.get("additionalProperties")
            if properties:
                for name, member in properties.items():
                    walk(member, f"{pointer}/properties/{name}", seen)
            if isinstance(additional, dict) and additional:
                walk(additional, f"{pointer}/additionalProperties", seen)
            is_map = isinstance(additional, dict)
            is_empty_object = properties == {} and additional is False
            if not properties and not is_map and not is_empty_object:
                problems.append(f"{pointer}: object without properties")
        if "array" in types:
            items = schema.get("items")
            if not isinstance(items, dict):
                problems.append(f"{pointer}: array without items")
            elif items:
                walk(items, f"{pointer}/items", seen)

    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            base = f"{method.upper()} {path}"
            body = operation.get("requestBody", {}).get("content", {})
            for media_type, content in body.items():
                walk(content.get("schema"), f"{base} request {media_type}", frozenset())
            for status, response in operation.get("responses", {}).items():
                for media_type, content in response.get("content", {}).items():
                    walk(content.get("schema"), f"{base} {status} {media_type}", frozenset())
    return problems
