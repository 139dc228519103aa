"""Metrics settings, mounted by the main settings object as ``metrics`` (env ``ADHOC_METRICS__PUBLIC``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["MetricsSettings"]


class MetricsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    public: bool = False
    """True: ``GET /metrics`` is answered on both listeners without credentials. False: admin credentials
    (HTTP Basic) over HTTPS only."""
