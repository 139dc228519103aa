"""``GET /metrics`` of the real server, parsed with prometheus-client's own parser."""

from __future__ import annotations

import sqlite3
import time
import xmlrpc.client
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import BridgeFactory
from tests.support.bridge import ADMIN_PASSWORD, ADMIN_USER, EXTERNAL_PASSWORD, EXTERNAL_USER, Bridge, auth
from tests.support.clients import post_rpc

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]

SECRET_CONFERENCE_NAMES = ("Board-Meeting-Q4-Secret", "Merger-Talks-Zeta", "HR-Case-4711")


def scrape(bridge: Bridge, *, http: bool = False, credentials: bool = True) -> str:
    with bridge.client(http=http) as client:
        response = client.get("/metrics", auth=(ADMIN_USER, ADMIN_PASSWORD) if credentials else None)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def samples(text: str) -> Samples:
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def rpc_count(found: Samples, method: str, outcome: str) -> float:
    return value(found, "adhoc_rpc_requests_total", dialect="mcu", method=method, outcome=outcome)


def rpc_total(found: Samples) -> float:
    return sum(count for (name, _labels), count in found.items() if name == "adhoc_rpc_requests_total")


def scrape_settled(bridge: Bridge, rpc_requests: float, **kwargs: bool) -> str:
    """A scrape that counts ``rpc_requests`` /RPC2 requests in all: a request is counted just after its
    reply is sent, so the last one may land a moment after the client has its answer."""
    deadline = time.monotonic() + 10
    while True:
        text = scrape(bridge, **kwargs)
        if rpc_total(samples(text)) >= rpc_requests or time.monotonic() > deadline:
            return text
        time.sleep(0.05)


def _call(bridge: Bridge, method: str, **params: Any) -> Any:
    with bridge.rpc() as proxy:
        return getattr(proxy, method)(auth(**params))


def test_a_known_sequence_of_calls_shows_in_the_counts(bridge: Bridge) -> None:
    before = samples(scrape(bridge))
    for name in SECRET_CONFERENCE_NAMES:
        _call(bridge, "conference.create", conferenceName=name)
    duplicate = post_rpc("httpx", bridge, "conference.create", auth(conferenceName=SECRET_CONFERENCE_NAMES[0]))
    assert duplicate.fault_code == 2
    _call(bridge, "conference.enumerate")
    _call(bridge, "conference.enumerate")
    # An invented method name (it could be anything a caller likes) is counted as "unknown".
    invented = post_rpc("httpx", bridge, "Merger-Talks-Zeta.please", auth())
    assert invented.fault_code is not None
    wrong_body = post_rpc("httpx", bridge, "device.query", auth(password="Wrong-Body-Pw-1"))
    assert wrong_body.fault_code == 15
    wrong_basic = post_rpc("httpx", bridge, "device.query", {}, basic=(EXTERNAL_USER, "Wrong-Basic-Pw-2"))
    assert wrong_basic.status == 401
    nothing = post_rpc("httpx", bridge, "device.query", {})
    assert nothing.status == 401
    with bridge.client() as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", auth=(ADMIN_USER, "Wrong-Admin-Pw-3")).status_code == 401

    text = scrape_settled(bridge, rpc_total(before) + 10)
    after = samples(text)

    def delta(method: str, outcome: str) -> float:
        return rpc_count(after, method, outcome) - rpc_count(before, method, outcome)

    assert delta("conference.create", "ok") == 3
    assert delta("conference.create", "fault") == 1
    assert delta("conference.enumerate", "ok") == 2
    assert delta("unknown", "fault") == 1
    assert delta("device.query", "denied") == 2  # wrong in-body password, no credentials at all
    assert delta("unknown", "denied") == 1  # a wrong Basic header is refused before the call is read
    histogram = "adhoc_rpc_request_duration_seconds_count"
    created = value(after, histogram, dialect="mcu", method="conference.create")
    assert created - value(before, histogram, dialect="mcu", method="conference.create") == 4
    buckets = "adhoc_rpc_request_duration_seconds_bucket"
    infinite = value(after, buckets, dialect="mcu", method="conference.create", le="+Inf")
    assert infinite == created

    def failures(api: str, carrier: str) -> float:
        name = "adhoc_authentication_failures_total"
        return value(after, name, api=api, carrier=carrier) - value(before, name, api=api, carrier=carrier)

    assert failures("external_system", "body") == 1
    assert failures("external_system", "basic") == 1
    assert failures("external_system", "none") == 1
    assert failures("admin", "none") == 1
    assert failures("admin", "basic") == 1
    assert value(after, "adhoc_conferences_live") == value(before, "adhoc_conferences_live") + 3
    assert value(after, "adhoc_calls_live") == 0
    assert value(after, "adhoc_media_engine_up") == 0
    states = {labels: count for (name, labels), count in after.items() if name == "adhoc_sip_registrations"}
    assert {dict(labels)["state"] for labels in states} == {"registering", "registered", "failed", "unregistered"}

    for secret in (*SECRET_CONFERENCE_NAMES, EXTERNAL_USER, EXTERNAL_PASSWORD, ADMIN_USER, ADMIN_PASSWORD):
        assert secret not in text
    for forbidden in ("Wrong-Body-Pw-1", "Wrong-Basic-Pw-2", "Wrong-Admin-Pw-3"):
        assert forbidden not in text


def test_metrics_need_the_admin_credentials_over_https(bridge: Bridge) -> None:
    with bridge.client() as client:
        refused = client.get("/metrics")
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith("Basic")
        assert refused.json() == {"error": "authentication required"}
        # The external system's credentials are not the admin's.
        assert client.get("/metrics", auth=(EXTERNAL_USER, EXTERNAL_PASSWORD)).status_code == 401
        assert client.get("/metrics", auth=(ADMIN_USER, ADMIN_PASSWORD)).status_code == 200
    with bridge.client(http=True) as plain:
        over_http = plain.get("/metrics", auth=(ADMIN_USER, ADMIN_PASSWORD))
    assert over_http.status_code == 403
    assert "HTTPS" in over_http.json()["error"]


def test_public_metrics_need_no_credentials_on_either_listener(bridge_factory: BridgeFactory) -> None:
    bridge = bridge_factory(env_overrides={"ADHOC_METRICS__PUBLIC": "true"})
    with bridge.rpc() as proxy:
        proxy.device.query(auth())
    for http in (False, True):
        found = samples(scrape_settled(bridge, 1, http=http, credentials=False))
        assert rpc_count(found, "device.query", "ok") == 1


def test_requests_refused_before_the_call_is_read_are_counted_as_unknown(bridge: Bridge) -> None:
    before = samples(scrape(bridge))
    with bridge.client(http=True) as plain:
        body = xmlrpc.client.dumps((auth(),), "device.query")
        assert plain.post("/RPC2", content=body).status_code == 403  # HTTP access is off
    with bridge.client() as client:
        assert client.get("/RPC2").status_code == 405
        assert client.post("/RPC2", content=b"<" * 70_000).status_code == 413
    after = samples(scrape_settled(bridge, rpc_total(before) + 3))
    assert rpc_count(after, "unknown", "http_disabled") - rpc_count(before, "unknown", "http_disabled") == 1
    assert rpc_count(after, "unknown", "refused") - rpc_count(before, "unknown", "refused") == 2


def test_metrics_path_is_not_part_of_the_management_api_document(bridge: Bridge) -> None:
    with bridge.client() as client:
        document = client.get("/api/admin/openapi.json", auth=(ADMIN_USER, ADMIN_PASSWORD))
    assert document.status_code == 200
    assert "/metrics" not in document.json()["paths"]


def test_a_database_that_does_not_answer_leaves_out_only_its_gauges(bridge_factory: BridgeFactory) -> None:
    bridge = bridge_factory()
    with bridge.rpc() as proxy:
        proxy.device.query(auth())
    with sqlite3.connect(bridge.data_dir / "adhoc-bridge.db") as database:
        database.execute("ALTER TABLE conference_state RENAME TO conference_state_gone")
    text = scrape_settled(bridge, 1)
    found = samples(text)
    assert rpc_count(found, "device.query", "ok") == 1
    assert "adhoc_conferences_live" not in text
    assert "adhoc_sip_registrations" not in text
    assert "metrics: database gauges unavailable" in bridge.log_text()
