"""Maps XML-RPC method names to typed handlers.

A handler takes a pydantic model of its struct members (validated strictly: XML-RPC types are not
coerced) and the call's context, and returns the reply struct. Validation errors become the MCU
faults 101 (missing), 103 (wrong type) and 102 (right type, bad value), naming the member. A
validator may raise ``McuFault`` itself for a method-specific code (for example 13 for a bad PIN):
pydantic lets exceptions other than ValueError pass through unchanged.

Before the model sees a struct, every value in it is checked for what XML-RPC allows but no member
takes: an integer beyond 32 bits (any member, known or not) and ``nil`` anywhere inside a member the
model declares are fault 103 naming the member. ``X | None = None`` in a model therefore means "may be
left out", never "may be nil". Unknown members are ignored, ``nil`` included.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import ErrorDetails

from app.xmlrpc.codec import INT32_MAX, INT32_MIN
from app.xmlrpc.faults import FaultCode, McuFault


class RpcParams(BaseModel):
    """Base for method parameter structs: strict XML-RPC types; unknown members ignored, as an MCU does."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True, populate_by_name=False)


# What a dialect makes of an exception its models or handlers raise: the fault to answer, or None (not its own).
Translate = Callable[[Exception], McuFault | None]

ParamsT = TypeVar("ParamsT", bound=BaseModel)
ContextT = TypeVar("ContextT")

Handler = Callable[[ParamsT, ContextT], Awaitable[dict[str, Any]]]


def _member(error: ErrorDetails) -> str:
    loc = [str(part) for part in error["loc"]]
    return ".".join(loc) if loc else "params"


def fault_from_validation(exc: ValidationError) -> McuFault:
    """The first error decides: missing -> 101, wrong type -> 103, anything else -> 102."""
    errors = exc.errors(include_url=False, include_input=False)
    # Prefer reporting a missing member, then a type error, then a value error.
    for error in errors:
        if error["type"] == "missing":
            return McuFault.missing(_member(error))
    for error in errors:
        if error["type"].endswith("_type") or error["type"].endswith("_parsing") or error["type"] == "is_instance_of":
            return McuFault.malformed(_member(error))
    return McuFault.invalid(_member(errors[0]))


def _check_value(value: object, path: str, declared: bool) -> None:
    """XML-RPC ``<int>``/``<i4>`` is 32-bit; a bigger number is malformed, not merely out of range.
    ``nil`` is malformed inside a ``declared`` member. Nesting is bounded by the call reader."""
    if value is None:
        if declared:
            raise McuFault.malformed(path)
    elif isinstance(value, bool):
        return
    elif isinstance(value, int):
        if not INT32_MIN <= value <= INT32_MAX:
            raise McuFault.malformed(path)
    elif isinstance(value, dict):  # the fault names the member, not the client's own struct keys inside it
        for item in value.values():
            _check_value(item, path, declared)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_value(item, f"{path}.{index}", declared)


def check_values(params: dict[str, Any], members: frozenset[str]) -> None:
    """Fault 103 for a too-big integer in any member, or a ``nil`` in one of ``members``."""
    for key, value in params.items():
        if type(value) is str or type(value) is bool:
            continue
        _check_value(value, str(key), key in members)


def _has_validators(model: type[BaseModel]) -> bool:
    decorators = model.__pydantic_decorators__
    return bool(decorators.model_validators or decorators.field_validators or decorators.root_validators)


@dataclass(frozen=True, slots=True)
class _Entry(Generic[ContextT]):
    model: type[BaseModel]
    handler: Callable[[Any, ContextT], Awaitable[dict[str, Any]]]
    members: frozenset[str]
    translate: Translate | None
    unvalidated: BaseModel | None = None


class Dispatcher(Generic[ContextT]):
    """``translate`` turns the errors a dialect's models and handlers raise in their own words (the conference
    domain's, say) into its faults; it is kept per method, so ``include`` keeps each dialect's reading."""

    def __init__(self, translate: Translate | None = None) -> None:
        self._methods: dict[str, _Entry[ContextT]] = {}
        self._translate = translate

    def method(
        self, name: str, model: type[ParamsT]
    ) -> Callable[[Handler[ParamsT, ContextT]], Handler[ParamsT, ContextT]]:
        def register(handler: Handler[ParamsT, ContextT]) -> Handler[ParamsT, ContextT]:
            if name in self._methods:
                raise ValueError(f"method {name!r} registered twice")
            members = frozenset(model.model_fields)
            # A model without members takes any struct: it need not be validated, one instance serves all.
            unvalidated = model() if not members and not _has_validators(model) else None
            self._methods[name] = _Entry(model, handler, members, self._translate, unvalidated)
            return handler

        return register

    def include(self, other: Dispatcher[ContextT]) -> None:
        for name, entry in other._methods.items():
            if name in self._methods:
                raise ValueError(f"method {name!r} registered twice")
            self._methods[name] = entry

    @property
    def methods(self) -> frozenset[str]:
        return frozenset(self._methods)

    def model_of(self, method: str) -> type[BaseModel]:
        """The parameter model ``method`` validates its struct with (KeyError if not registered)."""
        return self._methods[method].model

    async def dispatch(self, method: str, params: dict[str, Any], context: ContextT) -> dict[str, Any]:
        entry = self._methods.get(method)
        if entry is None:
            raise McuFault(FaultCode.METHOD_NOT_SUPPORTED)
        check_values(params, entry.members)
        try:
            model = entry.unvalidated
            if model is None:
                try:
                    model = entry.model.model_validate(params)
                except ValidationError as exc:
                    raise fault_from_validation(exc) from None
            return await entry.handler(model, context)
        except McuFault:
            raise
        except Exception as exc:
            fault = entry.translate(exc) if entry.translate is not None else None
            if fault is None:
                raise
            raise fault from None
