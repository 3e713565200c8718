"""Schemathesis over every operation of the OpenAPI document, in process, on both backends.

Each generated request must get an answer below 500 whose status code, content type and body conform
to the document (schemathesis's own checks), and a refused request (status >= 400) must not change
the number of rows of any table. Positive cases follow the schema; negative cases
break it on purpose. `make test` runs a bounded number per operation; `make reliability` more.
"""
from __future__ import annotations

import time

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.reliability.conftest import record_figure, scaled, table_row_counts

EXAMPLES_PER_OPERATION_AND_MODE = scaled(3, 25)
CONFORMANCE_CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
                      response_schema_conformance]
# Revoking the fuzzer's own token would turn every later case into a 401 and hide the rest.
# The live stream never ends: a fuzzer would wait on it for ever (tests/live covers it).
NOT_FUZZED = {"DELETE /api/v1/auth/tokens/current", "GET /api/v1/live/stream"}
# Refusals that write by design: a failed sign-in is counted (login_throttles) to slow down guessing,
# and that count, like every write, leaves its audit record.
WRITES_ON_REFUSAL = {
    "POST /api/v1/auth/tokens": {"login_throttles", "audit_log"},
    # A tracker message naming no live device, or no readable fix, spends one failure of its address.
    **{label: {"intake_address_limits"} for label in (
        "GET /api/v1/positions/osmand", "POST /api/v1/positions/osmand", "POST /api/v1/positions/owntracks",
        "POST /api/v1/positions/recorder", "POST /api/v1/patrols/recorder")},
}


def _failure_titles(failure: BaseException) -> str:
    failures = failure.exceptions if isinstance(failure, BaseExceptionGroup) else (failure,)
    return "; ".join(f"{getattr(one, 'title', type(one).__name__)}: {getattr(one, 'message', one)}"[:400]
                     for one in failures)


def test_fuzz_every_operation_no_5xx_and_refusals_write_nothing(app, backend, api_headers):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    connection = app.extensions["gridsvc"].sessions.kw["bind"]
    requests_sent = 0
    server_errors: list[str] = []
    nonconforming: list[str] = []
    writes_by_refusals: list[str] = []
    started = time.monotonic()

    operations = [result.ok() for result in schema.get_all_operations() if result.ok().label not in NOT_FUZZED]
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(max_examples=EXAMPLES_PER_OPERATION_AND_MODE, deadline=None, database=None,
                      derandomize=True, suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode))
            def exercise(case):
                nonlocal requests_sent
                before = table_row_counts(connection)
                response = case.call(app=app, headers=dict(api_headers))
                requests_sent += 1
                label = f"{case.operation.label} {mode.value} -> {response.status_code}: {case.as_curl_command()}"
                if response.status_code >= 500:
                    server_errors.append(label)
                try:
                    case.validate_response(response, checks=CONFORMANCE_CHECKS)
                except (AssertionError, BaseExceptionGroup) as failure:  # one Failure, or a FailureGroup
                    nonconforming.append(f"{label}: {_failure_titles(failure)}")
                after = table_row_counts(connection)
                allowed = WRITES_ON_REFUSAL.get(case.operation.label, set())
                changed = {table for table in after if after[table] != before[table]} - allowed
                if response.status_code >= 400 and changed:
                    writes_by_refusals.append(f"{label} wrote {sorted(changed)}")
                assert response.status_code < 500, label
                assert response.status_code < 400 or not changed, f"{label} wrote {sorted(changed)}"

            exercise()

    record_figure(f"fuzz[{backend}] requests", requests_sent)
    record_figure(f"fuzz[{backend}] operations", len(operations))
    record_figure(f"fuzz[{backend}] 5xx seen", len(server_errors))
    record_figure(f"fuzz[{backend}] refusals that wrote", len(writes_by_refusals))
    record_figure(f"fuzz[{backend}] responses not conforming", len(nonconforming))
    record_figure(f"fuzz[{backend}] seconds", round(time.monotonic() - started, 1))
    assert server_errors == [] and writes_by_refusals == []
    assert nonconforming == []
