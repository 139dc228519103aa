"""Every XML-RPC method the bridge serves, gathered from the domain packages."""

from __future__ import annotations

from app.conferences.rpc import rpc as conference_rpc
from app.device.rpc import rpc as device_rpc
from app.xmlrpc.context import CallContext
from app.xmlrpc.dispatcher import Dispatcher

dispatcher: Dispatcher[CallContext] = Dispatcher()
dispatcher.include(device_rpc)
dispatcher.include(conference_rpc)
