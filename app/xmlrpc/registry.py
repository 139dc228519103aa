"""Every XML-RPC method the bridge serves, all dialects together (MCU 2.9 and the Conductor's ``factory.*``)."""

from __future__ import annotations

from app.conductor.rpc import rpc as conductor_rpc
from app.device.rpc import rpc as device_rpc
from app.mcu.rpc import rpc as conference_rpc
from app.xmlrpc.context import CallContext
from app.xmlrpc.dispatcher import Dispatcher

dispatcher: Dispatcher[CallContext] = Dispatcher()
dispatcher.include(device_rpc)
dispatcher.include(conference_rpc)
dispatcher.include(conductor_rpc)
