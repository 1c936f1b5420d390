"""Property-based fuzzing of the read API with schemathesis, from its live OpenAPI document.

The document is loaded from Airflow's real app (in-process, ASGI) with a viewer's bearer token, as a
client would fetch it; every operation is then called with generated parameters — valid ones
(positive) and ones that break the schema (negative) — against the database filled through the
pulls. Checks: never a 5xx, every response's status, content type and body match the document,
invalid input is refused; and without a token every generated request is refused with 401.
Bounded by ``MAX_EXAMPLES`` per operation and mode so the whole file runs in about a minute.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from tests.web.conftest import bearer

OPENAPI = "/streamflow/api/v1/openapi.json"
MAX_EXAMPLES = 30
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
FUZZ = settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
                suppress_health_check=list(HealthCheck))


def _operations(api, airflow_app, tokens):
    schema = schemathesis.openapi.from_asgi(OPENAPI, airflow_app, headers=bearer(tokens, "viewer"))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 7  # every route of docs/api.md
    return operations


def _fuzz(operation, mode, checks, auth, seen) -> None:
    @FUZZ
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case):
        response = case.call(headers=auth)
        seen.setdefault(operation.label, set()).add(response.status_code)
        case.validate_response(response, checks=checks, headers=auth)

    run()


def test_every_operation_answers_by_its_schema(api, airflow_app, tokens):
    auth = bearer(tokens, "viewer")
    seen: dict[str, set[int]] = {}
    for operation in _operations(api, airflow_app, tokens):
        _fuzz(operation, GenerationMode.POSITIVE, CHECKS, auth, seen)
        _fuzz(operation, GenerationMode.NEGATIVE, [*CHECKS, negative_data_rejection], auth, seen)
    # the fuzz reached real answers, not only refusals
    assert all(200 in codes or 404 in codes for codes in seen.values()), seen
    assert any(422 in codes for codes in seen.values()) and any(400 in codes for codes in seen.values()), seen


def test_anonymous_requests_are_refused_everywhere(api, airflow_app, tokens):
    """No credentials → 401; forged credentials (schemathesis fills the declared bearer/cookie schemes
    with junk) → refused by Airflow (401 or 403). Never an answer with data."""
    seen: set[int] = set()
    for operation in _operations(api, airflow_app, tokens):

        @settings(max_examples=10, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def run(case):
            forged = case.call()
            assert forged.status_code in (401, 403), (case.path, case.query, forged.status_code)
            case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
            case.cookies = {}
            response = case.call()
            assert response.status_code == 401, (case.path, case.query, response.status_code)
            assert response.headers["content-type"][0].startswith("application/problem+json")
            seen.add(forged.status_code)

        run()
    assert seen  # every operation was tried
