"""The `[dashboard]` config section and the dashboard's password secret (declared in the dashboard's spec)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from bot.config import SecretSpec

# Plain, or a `socialbot dashboard hash-password` value.
PASSWORD = SecretSpec("dashboard_password", "SOCIALBOT_DASHBOARD_PASSWORD", "the dashboard login password")


class DashboardSection(BaseModel):
    """Where the dashboard listens and how strict its sessions, logins and uploads are."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(False, description="Serve the dashboard inside `socialbot run`.")
    host: str = Field("127.0.0.1", description="Address to listen on; keep it local and put a TLS proxy in front.")
    port: int = Field(8770, ge=0, le=65535, description="Port to listen on (0: any free port).")
    secure_cookies: bool = Field(
        False, description="Mark the session cookie Secure (set it when the dashboard is served over https)."
    )
    session_hours: float = Field(12.0, gt=0, le=24 * 30, description="A login lasts this long without use.")
    login_attempts: int = Field(5, ge=1, le=100, description="Failed logins allowed per address per window.")
    login_window_s: float = Field(300.0, gt=0, description="The window of `login_attempts`, in seconds.")
    max_upload_bytes: int = Field(
        2_000_000, ge=1_000, le=50_000_000, description="Largest knowledge-base file that may be uploaded."
    )
    uploads_dir: str = Field(
        "var/dashboard-uploads", description="Where uploaded knowledge-base files are kept (relative to the config)."
    )
    page_size: int = Field(50, ge=5, le=500, description="Rows per page in long lists.")
