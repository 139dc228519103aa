"""The CUCM liveness call end to end, as the first proof that the path works."""

from __future__ import annotations

from tests.support.bridge import Bridge, auth


def test_device_query_over_https_with_in_body_credentials(bridge: Bridge) -> None:
    with bridge.rpc() as proxy:
        reply = proxy.device.query(auth())
    assert isinstance(reply, dict)
    assert reply["apiVersion"] == "2.9"
    assert reply["finishedBooting"] is True
