"""The `[metrics]` config section: the small HTTP server for /healthz and /metrics."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class MetricsSection(BaseModel):
    """Where `socialbot run` serves its health check and Prometheus metrics (loopback unless said otherwise)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    enabled: bool = Field(True, description="Serve /healthz and /metrics while `socialbot run` runs.")
    host: str = Field("127.0.0.1", description="Address to listen on; 0.0.0.0 exposes it (e.g. in a container).")
    port: int = Field(9464, ge=0, le=65535, description="Port to listen on (0: any free port).")
