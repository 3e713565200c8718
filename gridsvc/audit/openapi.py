"""OpenAPI 3.1 description of the audit routes (merged by gridsvc.api.openapi.openapi_document).

The query and the page are gridsvc.audit.schemas', each entry gridsvc.audit.models' (AUDIT_ENTRY).
"""
from __future__ import annotations

from gridsvc.apidoc import LANG_PARAMETER, error_responses, json_response
from gridsvc.audit import schemas

PATHS: dict = {
    "/api/v1/audit": {
        "get": {
            "operationId": "auditLog", "tags": ["audit"],
            "summary": "The audit trail (administrators): entries matching every filter, newest first, a page of them",
            "parameters": [*schemas.AUDIT_QUERY, LANG_PARAMETER],
            "responses": {
                "200": json_response(schemas.AUDIT_PAGE, "One page of entries"),
                **error_responses(401, 403, 422),
            },
        }
    },
}
