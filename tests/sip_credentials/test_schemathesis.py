"""Schemathesis against the live server's admin OpenAPI: valid and invalid requests, never a 5xx."""

from __future__ import annotations

from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, given, settings, strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.sip_credentials.conftest import admin_client, create, delete_all
from tests.support.bridge import ADMIN_PASSWORD, ADMIN_USER, SIP_TEST_PASSWORDS, Bridge

EXAMPLES_PER_MODE = 40


def test_sip_credential_operations_never_answer_5xx(bridge: Bridge) -> None:
    with admin_client(bridge) as api:
        delete_all(api)
        existing = [int(str(create(api, f"fuzz-{n}.example", "fuzz", SIP_TEST_PASSWORDS[n])["id"])) for n in range(3)]
        document = api.get("/api/admin/openapi.json").json()
    schema = schemathesis.openapi.from_dict(document).include(path_regex="sip_credential")
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result.err()  # the document itself is valid OpenAPI
        operations.append(result.ok())
    assert {(op.method.upper(), op.path) for op in operations} == {
        ("GET", "/api/admin/configuration/v1/sip_credential/"),
        ("POST", "/api/admin/configuration/v1/sip_credential/"),
        ("GET", "/api/admin/configuration/v1/sip_credential/{id}/"),
        ("PUT", "/api/admin/configuration/v1/sip_credential/{id}/"),
        ("PATCH", "/api/admin/configuration/v1/sip_credential/{id}/"),
        ("DELETE", "/api/admin/configuration/v1/sip_credential/{id}/"),
    }
    statuses: dict[int, int] = {}
    with requests.Session() as session:
        session.verify = str(bridge.cert_path)
        session.auth = (ADMIN_USER, ADMIN_PASSWORD)
        for operation in operations:
            for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):

                @given(case=operation.as_strategy(generation_mode=mode), aim_existing=st.booleans())
                @settings(
                    max_examples=EXAMPLES_PER_MODE,
                    deadline=None,
                    database=None,
                    suppress_health_check=list(HealthCheck),
                )
                def run(case: Any, aim_existing: bool) -> None:
                    path_parameters = case.path_parameters or {}
                    if aim_existing and isinstance(path_parameters.get("id"), int):
                        path_parameters["id"] = existing[path_parameters["id"] % len(existing)]
                    response = case.call(
                        base_url=bridge.https_url, session=session, verify=str(bridge.cert_path), timeout=10
                    )
                    statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                    case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

                run()
    assert not [status for status in statuses if status >= 500]
    # Both valid and refused requests were made, so the run did exercise the service.
    assert statuses.keys() & {200, 201, 204}
    assert statuses.keys() & {400, 404}
