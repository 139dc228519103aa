"""Calls on either XML-RPC path with xmlrpc.client or curl, for the dialect tests."""

from __future__ import annotations

import xmlrpc.client
from typing import Any, Literal

import pytest

from tests.support.bridge import Bridge, auth
from tests.support.clients import post_rpc

PATHS = ("/RPC2", "/RPC2/")
Client = Literal["xmlrpc", "curl"]


class RpcFault(Exception):
    def __init__(self, code: int, text: str) -> None:
        super().__init__(code, text)
        self.code = code
        self.text = text


def rpc(bridge: Bridge, method: str, params: dict[str, Any], *, path: str = "/RPC2", client: Client = "xmlrpc") -> Any:
    """The result struct of ``method`` with in-body credentials; a fault raises ``RpcFault``."""
    if client == "xmlrpc":
        proxy = xmlrpc.client.ServerProxy(f"{bridge.https_url}{path}", context=bridge.ssl_context())
        with proxy:
            try:
                return getattr(proxy, method)(auth(**params))
            except xmlrpc.client.Fault as fault:
                raise RpcFault(fault.faultCode, fault.faultString) from None
    reply = post_rpc("curl", bridge, method, auth(**params), path=path)
    assert reply.status == 200, reply
    if reply.fault_code is not None:
        raise RpcFault(reply.fault_code, reply.fault_string or "")
    return reply.result


def fault(bridge: Bridge, method: str, params: dict[str, Any], **kwargs: Any) -> tuple[int, str]:
    with pytest.raises(RpcFault) as raised:
        rpc(bridge, method, params, **kwargs)
    return raised.value.code, raised.value.text


def enumerate_all(bridge: Bridge, method: str, key: str, params: dict[str, Any], **kwargs: Any) -> list[Any]:
    records: list[Any] = []
    extra: dict[str, Any] = {}
    while True:
        reply = rpc(bridge, method, {**params, **extra}, **kwargs)
        records.extend(reply.get(key, []))
        if "enumerateID" not in reply:
            return records
        extra = {"enumerateID": reply["enumerateID"]}
