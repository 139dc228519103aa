"""Imports every table module so that ``Base.metadata`` knows the whole schema."""

from __future__ import annotations

import importlib

# Domain packages add their table modules here.
MODEL_MODULES: tuple[str, ...] = (
    "app.sip_credentials.models",
    "app.conferences.models",
    "app.sip_registration.models",
    "app.runtime_settings.models",
    "app.console.models",
)


def load_all_models() -> None:
    for module in MODEL_MODULES:
        importlib.import_module(module)
