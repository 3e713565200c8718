"""Helpers shared by the tests that check live answers against the served OpenAPI document."""
from __future__ import annotations

import copy


def inline_refs(schema, components: dict):
    """The schema with every #/components/schemas reference replaced by the schema it names."""
    if isinstance(schema, list):
        return [inline_refs(item, components) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        return inline_refs(copy.deepcopy(components[schema["$ref"].rsplit("/", 1)[-1]]), components)
    return {name: inline_refs(value, components) for name, value in schema.items()}
