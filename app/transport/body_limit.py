"""Caps request bodies (64 KiB): 413 with a JSON body, on Content-Length or while streaming."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.transport.reply import too_large

MAX_BODY_BYTES = 64 * 1024


def declared_too_large(scope: Scope, limit: int) -> bool:
    """True when a Content-Length header says more than ``limit`` bytes, or is not a length at all."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                declared = int(value)
            except ValueError:
                return True
            if declared > limit or declared < 0:
                return True
    return False


class _TooLarge(Exception):
    pass


class BodyLimit:
    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def _reject(self, send: Send) -> None:
        await too_large(self.limit).send(send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if declared_too_large(scope, self.limit):
            await self._reject(send)
            return
        received = 0
        started = False
        overflowed = False

        async def limited_receive() -> Message:
            nonlocal received, overflowed
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    overflowed = True
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if overflowed:
                # Starlette's error middleware answers our exception with a 500 before re-raising it:
                # whatever the app tries to send once the cap is passed becomes the 413.
                if message["type"] == "http.response.start" and not started:
                    started = True
                    await self._reject(send)
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._reject(send)
