"""The enumerateFilter expression language of MCU API 2.9 (operators, priorities, integer prefixes)."""

from __future__ import annotations

import pytest

from app.conferences.filters import FilterError, parse_filter

CRITERIA = frozenset({"active", "completed", "scheduled"})
ACTIVE = {"active": True, "completed": False, "scheduled": True}
DONE = {"active": False, "completed": True, "scheduled": True}


@pytest.mark.parametrize(
    ("expression", "on_active", "on_done"),
    [
        ("active", True, False),
        ("!active", False, True),
        ("active || completed", True, True),
        ("active && completed", False, False),
        ("scheduled && !(active || completed)", False, False),
        ("  ( active )  ", True, False),
        ("completed || active && completed", False, True),  # && binds tighter than ||
        ("active == 1", True, False),
        ("active + completed == 1", True, True),
        ("0x10 == 0t16 && 0z101 == 5", True, True),
        ("1 << 2 == 4", True, True),
        ("7 % 4 * 2 == 6", True, True),
        ("-1 < 0 && ~0 == -1", True, True),
        ("(active | completed) ^ 1", False, False),
        ("2 & 3", True, True),
        ("10 / 3 == 3 && 0", False, False),
    ],
)
def test_expressions(expression: str, on_active: bool, on_done: bool) -> None:
    matcher = parse_filter(expression, CRITERIA)
    assert matcher.matches(ACTIVE) is on_active
    assert matcher.matches(DONE) is on_done


@pytest.mark.parametrize(
    "expression", ["", "active &&", "connected", "(active", "active)", "active $ 1", "f(active)", "!" * 100 + "active"]
)
def test_rejected_expressions(expression: str) -> None:
    with pytest.raises(FilterError):
        parse_filter(expression, CRITERIA)


def test_division_by_zero_is_an_error_not_a_crash() -> None:
    matcher = parse_filter("active / 0", CRITERIA)
    with pytest.raises(FilterError):
        matcher.matches(ACTIVE)
