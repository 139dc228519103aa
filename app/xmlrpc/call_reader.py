"""Reads a ``methodCall`` document into (method name, params) from defusedxml's expat parser.

The parser is defusedxml's: a document type declaration, an entity declaration or an external reference
stops the parse (``DefusedXmlException``), so nothing can expand, fetch or declare anything. The reader
gives the values ``xmlrpc.client.Unmarshaller(use_builtin_types=True)`` gives (a test compares the two)
for about half its cost: this runs on every CUCM request. ``read_call`` first tries ``fast_call``, a strict
reader for the common shape (one struct of scalars) that gives the same result in a fraction of the time
or declines; whatever it declines is read here (``read_call_defused``), errors and all.

Two limits keep a hostile body from reaching anything but a fault: arrays and structs nest at most
``MAX_NESTING`` levels (the params struct counts as one), far below Python's recursion limit, so nothing
that walks a value later can recurse too deep; and a declared encoding must be one expat can read (UTF-8,
UTF-16, or a single-byte, ASCII-compatible text codec): anything else is ``UnsupportedEncoding``.
"""

from __future__ import annotations

import base64
import codecs
import functools
import re
from datetime import datetime
from decimal import Decimal
from typing import Any

from defusedxml.xmlrpc import DefusedExpatParser

from app.xmlrpc.fast_call import read_call_fast


class NotACall(ValueError):
    """Well-formed XML that is not an XML-RPC methodCall (an unknown type, a bad value)."""


class FaultDocument(NotACall):
    """A ``<fault>``: a response, not a call."""


class NestedTooDeep(NotACall):
    """Arrays or structs nested deeper than ``MAX_NESTING``."""


class UnsupportedEncoding(NotACall):
    """The XML declaration names an encoding that is unknown or that expat cannot read."""


MAX_NESTING = 32
# Encodings expat reads itself; any other declared encoding goes through Python's codec of that name.
_EXPAT_NATIVE = frozenset(("utf-8", "utf-16", "iso-8859-1", "us-ascii"))
_DECLARED_ENCODING = re.compile(rb"<\?xml[^>]*?\sencoding\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
_ASCII = bytes(range(128))
_ALL_BYTES = bytes(range(256))


@functools.lru_cache(maxsize=64)
def _readable_encoding(label: bytes) -> bool:
    """Whether expat can parse a document declared in ``label`` (pyexpat's own rule, checked up front)."""
    try:
        name = label.decode("ascii").lower()
        if name in _EXPAT_NATIVE:
            return True
        info = codecs.lookup(name)
        if not getattr(info, "_is_text_encoding", True):
            return False  # rot13, hex, zlib, base64: byte or text transforms, not character encodings
        if info.name in ("utf-8", "utf-16"):
            return True
        # pyexpat takes only single-byte codecs; the declaration itself must read as ASCII.
        return len(_ALL_BYTES.decode(info.name, "replace")) == 256 and _ASCII.decode(info.name) == _ASCII.decode(
            "ascii"
        )
    except (LookupError, ValueError):
        return False


@functools.lru_cache(maxsize=64)
def _readable_declaration(declaration: bytes) -> bool:
    found = _DECLARED_ENCODING.match(declaration)
    return found is None or _readable_encoding(found.group(1) or found.group(2) or b"")


def check_declared_encoding(body: bytes) -> None:
    """Raise ``UnsupportedEncoding`` unless the XML declaration (if any) names a readable encoding.
    A client sends the same declaration every time: after the first, this is one cache lookup."""
    if not body.startswith(b"<?xml"):
        return
    end = body.find(b"?>", 5, 512)
    if not _readable_declaration(body[: end if end >= 0 else 512]):
        raise UnsupportedEncoding("unsupported encoding")


def _boolean(text: str) -> bool:
    if text == "1":
        return True
    if text == "0":
        return False
    raise NotACall("bad boolean value")


def _nil(text: str) -> None:
    if text:
        raise NotACall("bad nil value")


_SCALARS: dict[str, Any] = {
    "string": str,
    "int": int,
    "i1": int,
    "i2": int,
    "i4": int,
    "i8": int,
    "biginteger": int,
    "boolean": _boolean,
    "double": float,
    "float": float,
    "bigdecimal": Decimal,
    "dateTime.iso8601": lambda text: datetime.strptime(text, "%Y%m%dT%H:%M:%S"),
    "base64": lambda text: base64.decodebytes(text.encode("ascii")),
    "nil": _nil,
}
_CONTAINERS = frozenset(("array", "struct"))
# What may open inside a <value> (the standard library's list: its dispatch table).
_VALUE_CONTENT = frozenset((*_SCALARS, *_CONTAINERS, "value", "params", "fault", "methodName", "ex:nil"))


class _Reader:
    __slots__ = ("stack", "marks", "text", "bare_value", "method")

    def __init__(self) -> None:
        self.stack: list[Any] = []
        self.marks: list[int] = []
        self.text: list[str] = []
        self.bare_value = False
        self.method: str | None = None

    def xml(self, _encoding: str | None, _standalone: object) -> None:
        """The XML declaration: nothing to do (expat has already decoded the text)."""

    def start(self, tag: str, _attributes: object) -> None:
        if self.bare_value and tag not in _VALUE_CONTENT:
            raise NotACall("unknown tag in a value")
        if tag in _CONTAINERS:
            self.marks.append(len(self.stack))
            if len(self.marks) > MAX_NESTING:
                raise NestedTooDeep("nested too deeply")
        self.text = []
        self.bare_value = tag == "value"

    def data(self, text: str) -> None:
        self.text.append(text)

    def end(self, tag: str) -> None:
        stack = self.stack
        convert = _SCALARS.get(tag)
        if convert is not None:
            stack.append(convert("".join(self.text)))
        elif tag == "value":
            if self.bare_value:  # <value>text</value> with no type element is a string
                stack.append("".join(self.text))
        elif tag == "name":
            stack.append("".join(self.text))
        elif tag == "struct":
            mark = self.marks.pop()
            items = stack[mark:]
            if len(items) % 2:
                raise NotACall("struct member without a value")
            stack[mark:] = [dict(zip(items[::2], items[1::2], strict=True))]
        elif tag == "array":
            mark = self.marks.pop()
            stack[mark:] = [stack[mark:]]
        elif tag == "methodName":
            self.method = "".join(self.text)
        elif tag == "fault":
            raise FaultDocument
        elif ":" in tag:  # a namespaced extension type such as <ex:nil/>: read as its local name
            self.end(tag.rsplit(":", 1)[1])
            return
        # Anything else (methodCall, params, param, member, data, unknown tags) only structures the document.
        self.bare_value = False


def read_call(body: bytes) -> tuple[str | None, list[Any]]:
    """(methodName or None, params), as ``read_call_defused`` gives them (the fast reader when it takes
    the body: it never takes one the defused reader would refuse or read differently)."""
    return read_call_fast(body) or read_call_defused(body)


def read_call_defused(body: bytes) -> tuple[str | None, list[Any]]:
    """(methodName or None, params) from defusedxml's expat parser. Raises ``DefusedXmlException``,
    ``NotACall`` (``NestedTooDeep``, ``UnsupportedEncoding``), ``ExpatError`` or a conversion error
    (ValueError, TypeError, ArithmeticError) for anything else."""
    check_declared_encoding(body)
    reader = _Reader()
    parser = DefusedExpatParser(reader, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    parser.feed(body)
    parser.close()
    return reader.method, reader.stack
