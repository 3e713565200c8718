"""The API's own description: the OpenAPI 3.1 document served at /api/v1/openapi.json."""
