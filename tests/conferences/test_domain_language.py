"""The conference domain speaks its own errors: none of its modules imports the XML-RPC layer, a dialect or a
transport."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from app.conductor.faults import conductor_fault
from app.conferences import errors
from app.mcu.faults import MCU_CODES, mcu_fault

DOMAIN = Path(__file__).resolve().parents[2] / "app" / "conferences"
DOMAIN_MODULES = sorted(path.name for path in DOMAIN.glob("*.py"))
OUTSIDE_THE_DOMAIN = ("app.xmlrpc", "app.mcu", "app.conductor", "app.transport", "app.admin", "app.console")


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize("module", DOMAIN_MODULES)
def test_domain_module_imports_no_dialect_nor_transport(module: str) -> None:
    imported = _imports(DOMAIN / module)
    assert not {
        name for name in imported for outside in OUTSIDE_THE_DOMAIN if name.split(".")[:2] == outside.split(".")
    }


def _every_error() -> list[type[errors.ConferenceError]]:
    return [
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, errors.ConferenceError) and value is not errors.ConferenceError
    ]


@pytest.mark.parametrize("error", _every_error(), ids=lambda kind: kind.__name__)
def test_every_domain_error_has_its_own_mcu_fault(error: type[errors.ConferenceError]) -> None:
    assert error in MCU_CODES
    assert int(mcu_fault(error()).code) == int(MCU_CODES[error])
    assert int(mcu_fault(error()).code) != 201 or error is errors.OperationRefused


def test_the_conductor_reads_a_clash_as_conference_already_present() -> None:
    for error in (errors.DuplicateConferenceName(), errors.DuplicateNumericId()):
        fault = conductor_fault(error)
        assert int(fault.code) == 2
        assert "conference already present" in fault.fault_string
    assert int(conductor_fault(errors.NoSuchConference()).code) == 4
