"""``enumerateFilter`` expressions (MCU API 2.9 "Enumerate filters"): C-like integer expressions.

Atoms are the call's criteria (booleans, 0 or 1) and integers (decimal, ``0x`` hex, ``0t`` decimal,
``0z`` binary); unary ``- + ! ~``; binary operators from lowest to highest priority ``||``, ``&&``,
``|``, ``^``, ``&``, ``== !=``, ``< <= >= >``, ``<< >>``, ``+ -``, ``* / %``; parentheses. Whitespace is
ignored. Anything else (unknown criterion, function call, division by zero) raises ``FilterError``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

MAX_DEPTH = 64


class FilterError(ValueError):
    """The expression cannot be parsed or evaluated."""


Criteria = Mapping[str, bool]
Node = Callable[[Criteria], int]

_TOKEN = re.compile(
    r"\s*(?:(?P<int>0[xX][0-9a-fA-F]+|0[tT][0-9]+|0[zZ][01]+|[0-9]+)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>\|\||&&|==|!=|<=|>=|<<|>>|[|^&<>+\-*/%!~()]))"
)

_BINARY_LEVELS: tuple[tuple[str, ...], ...] = (
    ("||",),
    ("&&",),
    ("|",),
    ("^",),
    ("&",),
    ("==", "!="),
    ("<", "<=", ">=", ">"),
    ("<<", ">>"),
    ("+", "-"),
    ("*", "/", "%"),
)


def _int_literal(text: str) -> int:
    prefix = text[:2].lower()
    if prefix == "0x":
        return int(text[2:], 16)
    if prefix == "0t":
        return int(text[2:], 10)
    if prefix == "0z":
        return int(text[2:], 2)
    return int(text, 10)


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise FilterError("unexpected character")
        kind = match.lastgroup
        assert kind is not None
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


def _apply(op: str, left: int, right: int) -> int:
    if op in ("/", "%") and right == 0:
        raise FilterError("division by zero")
    results: dict[str, Callable[[], int]] = {
        "||": lambda: int(bool(left) or bool(right)),
        "&&": lambda: int(bool(left) and bool(right)),
        "|": lambda: left | right,
        "^": lambda: left ^ right,
        "&": lambda: left & right,
        "==": lambda: int(left == right),
        "!=": lambda: int(left != right),
        "<": lambda: int(left < right),
        "<=": lambda: int(left <= right),
        ">=": lambda: int(left >= right),
        ">": lambda: int(left > right),
        "<<": lambda: left << min(max(right, 0), 64),
        ">>": lambda: left >> min(max(right, 0), 64),
        "+": lambda: left + right,
        "-": lambda: left - right,
        "*": lambda: left * right,
        "/": lambda: int(left / right),
        "%": lambda: left - right * int(left / right),
    }
    return results[op]()


_UNARY: dict[str, Callable[[int], int]] = {
    "-": lambda value: -value,
    "+": lambda value: value,
    "!": lambda value: int(not value),
    "~": lambda value: ~value,
}


@dataclass
class _Parser:
    tokens: list[tuple[str, str]]
    criteria: frozenset[str]
    position: int = 0
    depth: int = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise FilterError("unexpected end of expression")
        self.position += 1
        return token

    def binary(self, level: int) -> Node:
        if level == len(_BINARY_LEVELS):
            return self.unary()
        node = self.binary(level + 1)
        while (token := self.peek()) is not None and token[0] == "op" and token[1] in _BINARY_LEVELS[level]:
            self.take()
            right = self.binary(level + 1)
            node = _binary_node(token[1], node, right)
        return node

    def unary(self) -> Node:
        kind, text = self.take()
        if kind == "op" and text in _UNARY:
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise FilterError("expression nested too deeply")
            operand = self.unary()
            self.depth -= 1
            function = _UNARY[text]
            return lambda values: function(operand(values))
        if kind == "op" and text == "(":
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise FilterError("expression nested too deeply")
            inner = self.binary(0)
            if self.take() != ("op", ")"):
                raise FilterError("missing )")
            self.depth -= 1
            return inner
        if kind == "int":
            constant = _int_literal(text)
            return lambda _values: constant
        if kind == "name":
            if text not in self.criteria:
                raise FilterError(f"unknown criterion {text}")
            return lambda values: int(values[text])
        raise FilterError("unexpected token")


def _binary_node(op: str, left: Node, right: Node) -> Node:
    return lambda values: _apply(op, left(values), right(values))


@dataclass(frozen=True)
class Filter:
    """A parsed expression; ``matches(criteria)`` is true when it evaluates to non-zero."""

    root: Node

    def matches(self, values: Criteria) -> bool:
        return self.root(values) != 0


def parse_filter(text: str, criteria: frozenset[str]) -> Filter:
    tokens = _tokenize(text)
    if not tokens:
        raise FilterError("empty expression")
    parser = _Parser(tokens, criteria)
    root = parser.binary(0)
    if parser.peek() is not None:
        raise FilterError("trailing input")
    return Filter(root)
