"""Settings: one TOML file, environment overrides for every key, secrets kept apart.

Every section is a pydantic model that forbids unknown keys, so a typo stops the bot at start with one line
naming the file, the key and the reason (`ConfigError`). The core declares only its own sections (`Settings`);
each installed feature and platform declares its section's model, its secrets and its retired keys in its spec,
and the loader validates them all in one pass. Secrets (bot tokens) are never read from the main file: only
from the environment or a secrets file, and they are `SecretStr` so they never print.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, create_model

from bot.dispatch.settings import DeliverySection
from bot.secret_logging import keep_out_of_logs

CONFIG_PATH_ENV = "SOCIALBOT_CONFIG"
SECRETS_PATH_ENV = "SOCIALBOT_SECRETS"
ENV_PREFIX = "SOCIALBOT__"
T = TypeVar("T", bound=BaseModel)


class ConfigError(Exception):
    """A configuration problem, phrased as `file: key: reason` so the operator can fix it at once."""

    def __init__(self, source: str, key: str, reason: str) -> None:
        self.source = source
        self.key = key
        self.reason = reason
        super().__init__(f"{source}: {key}: {reason}")


class Section(BaseModel):
    """Base for config sections: unknown keys are errors, values are immutable after load."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class BotSection(Section):
    name: str = Field("socialbot", description="The bot's name, used in prompts and fixed texts.")
    community_name: str = Field("our community", description="Name of the community or business served.")
    tone: str = Field("friendly and concise", description="Voice of the bot's replies and drafted posts.")
    database: str = Field("var/socialbot.db", description="SQLite file, relative to the config file's folder.")
    persona_prompt: str = Field("persona", description="Prompt file in prompts/ used as the system prompt.")
    prompts_dir: str = Field("", description="Extra prompts folder whose files override the bundled ones.")
    history_token_budget: int = Field(1024, ge=64, description="Tokens of history+prompt sent to the model.")
    max_input_chars: int = Field(4000, ge=1, description="Longer user messages are truncated to this.")
    fallback_reply: str = Field(
        "Sorry, I can't help with that here.", description="Sent instead of a reply the gate blocked."
    )
    busy_reply: str = Field("I'm busy right now, please try again in a moment.", description="Queue full.")
    error_reply: str = Field("Something went wrong on my side, please try again.", description="On failure.")
    language: str = Field("en", description="Default language of the bot's fixed texts.")
    progress_interval_s: float = Field(
        1.0, ge=0.2, description="How often a growing reply is shown where a platform's show_progress is on."
    )
    admin_user_ids: list[str] = Field(
        default_factory=list, description="`platform:user_id` entries treated as admins everywhere."
    )


class ModelSection(Section):
    name: str = Field(
        "bundled:smollm2", description="'bundled:smollm2', a Hugging Face model id, or a local directory."
    )
    backend: Literal["transformers", "openai"] = "transformers"
    cache_dir: str = Field("", description="Where converted models are cached (default ~/.cache/socialbot).")
    dtype: Literal["float32", "bfloat16"] = "float32"
    quantize_int8: bool = Field(
        True, description="Int8 Linear weights on a CPU with float32 compute (false: float32 weights)."
    )
    threads: int = Field(0, ge=0, description="torch threads; 0 = one with int8 weights on a CPU, else all cores.")
    device: str = Field("auto", description="'auto' (CUDA when present), 'cpu' or 'cuda'.")
    max_queue: int = Field(64, ge=1)
    request_timeout_s: float = Field(120.0, gt=0)
    max_concurrent_sequences: int = Field(16, ge=1)
    kv_cache_budget_mb: int = Field(
        512, ge=0, description="Keys/values kept for idle conversations (512 MB: ~22,000 bfloat16 tokens)."
    )
    kv_dtype: Literal["auto", "float32", "bfloat16"] = Field(
        "auto", description="Storage of cached keys/values; 'auto' is bfloat16 on CPU (half the memory)."
    )
    prefill_chunk_tokens: int = Field(256, ge=16)
    native_attention: bool = Field(
        True, description="Decode attention through a small C kernel built with the machine's compiler (CPU)."
    )
    fused_decode: bool = Field(True, description="Decode-only steps: every layer in one C call (int8 model on a CPU).")
    int8_activations: bool = Field(
        True, description="In those steps, int8 activations on AVX-512 VNNI (~15-bit); false = float activations."
    )
    openai_base_url: str = Field("http://127.0.0.1:8000/v1", description="For backend = 'openai'.")
    openai_model: str = ""


class GenerationSection(Section):
    max_new_tokens: int = Field(96, ge=1, le=4096)
    temperature: float = Field(0.0, ge=0.0, le=2.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    repetition_penalty: float = Field(1.1, ge=1.0, le=2.0)
    stop: list[str] = Field(default_factory=list)


class ModerationSection(Section):
    blocklist: list[str] = Field(default_factory=list, description="Words/phrases that block a reply.")
    block_patterns: list[str] = Field(default_factory=list, description="Regexes that block a reply.")
    redact_pii: bool = True
    classifier: Literal["trained", "profanity-check", "none"] = "trained"
    offensive_threshold: float | None = Field(
        None, ge=0.0, le=1.0, description="Block outputs scoring above; unset: the classifier's calibrated value."
    )
    input_flag_threshold: float | None = Field(
        None, ge=0.0, le=1.0, description="Flag inputs scoring above; unset: the classifier's calibrated value."
    )
    harm_check: bool = True
    harm_threshold: float | None = Field(None, ge=0.0, le=1.0, description="Unset: the calibrated value.")
    harm_lm_check: bool = Field(
        True, description="Judge the model's own replies with its hidden states too (in-process engine only)."
    )
    hf_model: str = Field("", description="Optional HF sequence-classification model id or folder.")
    hf_offensive_label: str = "offensive"
    link_allowlist: list[str] = Field(default_factory=list, description="Domains replies may link to.")
    word_list_dir: str = Field("", description="Folder of <language>.txt word lists adding to the shipped ones.")
    word_lists: dict[str, list[str]] = Field(default_factory=dict, description="Extra words per language code.")


class LoggingSection(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    file: str = ""


@dataclass(frozen=True)
class SecretSpec:
    """A secret a component needs (a bot token, a password): its key in the secrets file and the environment
    variable that sets it. Declared by the component (`FeatureSpec.secrets`, `PlatformSpec.secrets`), so the
    core names none of them."""

    key: str
    env: str
    description: str = ""


CORE_SECRETS = (SecretSpec("openai_api_key", "SOCIALBOT_OPENAI_API_KEY", "API key of the model server"),)


class Secrets(BaseModel):
    """Bot tokens and API keys: from the environment or a secrets file, never from the main config.

    The core declares only its own (`openai_api_key`); each installed feature and platform adds the ones
    its spec declares. Read one with `value(key)`; every value is a `SecretStr` and is kept out of logs.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    openai_api_key: SecretStr | None = None

    def value(self, key: str) -> SecretStr | None:
        """The secret declared as `key`, or None when it is not set (or no installed component declares it)."""
        found = getattr(self, key, None) if key in type(self).model_fields else None
        return found if isinstance(found, SecretStr) else None


class Settings(Section):
    """The core's configuration. Every section defaults, so an empty file is a valid config.

    Installed features and platforms add their own sections (`[kb]`, `[telegram]`...) from the settings models
    their specs declare; read one with `LoadedConfig.section(Model)`.
    """

    bot: BotSection = BotSection()
    model: ModelSection = ModelSection()
    generation: GenerationSection = GenerationSection()
    moderation: ModerationSection = ModerationSection()
    logging: LoggingSection = LoggingSection()
    delivery: DeliverySection = DeliverySection()


@runtime_checkable
class DeclaresSettings(Protocol):
    """What the loader reads of a `FeatureSpec` or `PlatformSpec`: its section, model, secrets and retired keys."""

    name: str
    settings_section: str
    settings_model: type[BaseModel] | None
    secrets: tuple[SecretSpec, ...]
    retired_keys: Mapping[str, str]


@dataclass(frozen=True)
class Declarations:
    """Everything the installed components declare that the loader validates."""

    sections: tuple[tuple[str, type[BaseModel]], ...] = ()
    secrets: tuple[SecretSpec, ...] = CORE_SECRETS
    # `section.key` -> why it is no longer read: a config that still sets one fails saying what replaced it.
    retired_keys: tuple[tuple[str, str], ...] = ()

    @property
    def secret_env_names(self) -> dict[str, str]:
        return {secret.key: secret.env for secret in self.secrets}


def installed_declarations() -> Declarations:
    """The sections, secrets and retired keys of every installed feature and platform (their entry points)."""
    from bot.entry_points import FEATURE_GROUP, PLATFORM_GROUP, PluginError, load_declared

    sections: dict[str, tuple[str, type[BaseModel]]] = {}
    secrets = list(CORE_SECRETS)
    retired: list[tuple[str, str]] = []
    for group in (FEATURE_GROUP, PLATFORM_GROUP):
        for point, spec in load_declared(group):
            if not isinstance(spec, DeclaresSettings):
                continue
            if spec.settings_section and spec.settings_model is not None:
                name = spec.settings_section
                if name in Settings.model_fields or name in sections:
                    owner = "the core" if name in Settings.model_fields else sections[name][0]
                    raise PluginError(f"{group} '{point.name}' declares the section [{name}] that {owner} declares")
                sections[name] = (spec.name, spec.settings_model)
            secrets.extend(spec.secrets)
            retired.extend(spec.retired_keys.items())
    return Declarations(
        tuple(sorted((name, model) for name, (_, model) in sections.items())), tuple(secrets), tuple(sorted(retired))
    )


@cache
def settings_model(sections: tuple[tuple[str, type[BaseModel]], ...]) -> type[Settings]:
    """`Settings` with the declared sections added (each defaulting), so one validation covers the whole
    file: an unknown section or key, or a bad value, fails with the same one-line error wherever it is."""
    if not sections:
        return Settings
    fields: dict[str, Any] = {name: (model, Field(default_factory=model)) for name, model in sections}
    return create_model("Settings", __base__=Settings, **fields)


@cache
def secrets_model(secrets: tuple[SecretSpec, ...]) -> type[Secrets]:
    """`Secrets` with the declared secrets added, each optional."""
    extra = {secret.key: (SecretStr | None, None) for secret in secrets if secret.key not in Secrets.model_fields}
    if not extra:
        return Secrets
    fields: dict[str, Any] = extra
    return create_model("Secrets", __base__=Secrets, **fields)


class LoadedConfig(BaseModel):
    """Settings together with where they came from (relative paths resolve against `base_dir`)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)
    settings: Settings
    secrets: Secrets
    source: str
    base_dir: Path
    found_by: str = Field("--config", description="How the file was found (see `locate_config`).")

    def resolve_path(self, value: str) -> Path:
        """A path from the config, relative to the config file's folder unless absolute."""
        path = Path(os.path.expanduser(value))
        return path if path.is_absolute() else self.base_dir / path

    @property
    def database_path(self) -> Path:
        if self.settings.bot.database == ":memory:":
            return Path(":memory:")
        return self.resolve_path(self.settings.bot.database)

    def section(self, model: type[T]) -> T:
        """The section validated by `model` (a feature's or platform's own, e.g. `config.section(KbSection)`);
        raises LookupError when no installed component declares it."""
        for name in type(self.settings).model_fields:
            value = getattr(self.settings, name)
            if type(value) is model:
                return value
        raise LookupError(f"no installed feature or platform declares a {model.__name__} section")

    def section_named(self, name: str) -> BaseModel | None:
        """The section `[name]`, whoever declares it (None when nothing installed does)."""
        value = getattr(self.settings, name, None) if name in type(self.settings).model_fields else None
        return value if isinstance(value, BaseModel) else None

    def with_section(self, section: BaseModel) -> LoadedConfig:
        """This config with the section of `section`'s type replaced (evaluations and the CLI adjust one)."""
        for name in type(self.settings).model_fields:
            if type(getattr(self.settings, name)) is type(section):
                return self.model_copy(update={"settings": self.settings.model_copy(update={name: section})})
        raise LookupError(f"no installed feature or platform declares a {type(section).__name__} section")


def _parse_env_value(raw: str) -> Any:
    """An environment value as TOML would read it (numbers, booleans, arrays), else the raw string."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _apply_env_overrides(data: dict[str, Any], environ: Mapping[str, str]) -> list[str]:
    """Apply `SOCIALBOT__SECTION__KEY=value` overrides in place; returns the keys overridden."""
    applied = []
    for name, raw in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX):
            continue
        path = [part.lower() for part in name[len(ENV_PREFIX) :].split("__") if part]
        if not path:
            continue
        target = data
        for part in path[:-1]:
            node = target.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"environment {name}", ".".join(path), "overrides a value that is not a table")
            target = node
        target[path[-1]] = _parse_env_value(raw)
        applied.append(".".join(path))
    return applied


def _first_error(error: ValidationError, source: str, retired_keys: Mapping[str, str] | None = None) -> ConfigError:
    detail = error.errors()[0]
    key = ".".join(str(part) for part in detail["loc"]) or "(root)"
    reason = detail["msg"]
    if detail["type"] == "extra_forbidden":
        reason = (retired_keys or {}).get(key, "unknown key")
    elif detail["type"] == "missing":
        reason = "required value is missing"
    return ConfigError(source, key, reason)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(str(path), "(file)", "file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), "(syntax)", str(exc)) from None
    except UnicodeDecodeError:
        raise ConfigError(str(path), "(file)", "not UTF-8 text") from None


def load_secrets(path: Path | None, environ: Mapping[str, str], declarations: Declarations | None = None) -> Secrets:
    """Secrets from the secrets file (if any) with environment variables taking precedence; the keys are the
    core's and those the installed features and platforms declare."""
    declared = declarations or installed_declarations()
    values: dict[str, Any] = {}
    source = "secrets"
    if path is not None:
        source = str(path)
        values.update(_read_toml(path))
    for key, env_name in declared.secret_env_names.items():
        if environ.get(env_name):
            values[key] = environ[env_name]
    try:
        secrets = secrets_model(declared.secrets).model_validate(values)
    except ValidationError as exc:
        raise _first_error(exc, source) from None
    for value in secrets.model_dump().values():
        if isinstance(value, SecretStr):
            keep_out_of_logs(value.get_secret_value())
    return secrets


CONFIG_FILE_NAME = "socialbot.toml"


@dataclass(frozen=True)
class ConfigLocation:
    """Which config file is read and how it was found, so `config check` can say so."""

    path: Path | None  # None: built-in defaults only
    found_by: Literal["--config", "SOCIALBOT_CONFIG", "working directory", "XDG config folder", "defaults"]


def locate_config(
    explicit: str | Path | None = None, environ: Mapping[str, str] | None = None, cwd: Path | None = None
) -> ConfigLocation:
    """The config file to read, in order: `explicit` (`--config`), $SOCIALBOT_CONFIG, `./socialbot.toml`,
    `$XDG_CONFIG_HOME/socialbot/socialbot.toml` (XDG default `~/.config`), else built-in defaults.

    An explicit or environment path must exist (a typo is an error); the two discovered places are only
    used when a file is there.
    """
    env = os.environ if environ is None else environ
    if explicit:
        return ConfigLocation(Path(explicit).expanduser(), "--config")
    if env.get(CONFIG_PATH_ENV):
        return ConfigLocation(Path(env[CONFIG_PATH_ENV]).expanduser(), "SOCIALBOT_CONFIG")
    local = (cwd or Path.cwd()) / CONFIG_FILE_NAME
    if local.is_file():
        return ConfigLocation(local, "working directory")
    xdg_home = env.get("XDG_CONFIG_HOME") or ""
    if not Path(xdg_home).is_absolute():  # the XDG spec: a relative or empty value is ignored
        xdg_home = str(Path(env.get("HOME") or Path.home()) / ".config")
    user_file = Path(xdg_home) / "socialbot" / CONFIG_FILE_NAME
    if user_file.is_file():
        return ConfigLocation(user_file, "XDG config folder")
    return ConfigLocation(None, "defaults")


def load_config(
    path: str | Path | None = None,
    secrets_path: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> LoadedConfig:
    """Load and validate the config; raises `ConfigError` naming file, key and reason.

    The file is found by `locate_config` (`path`, $SOCIALBOT_CONFIG, ./socialbot.toml, the XDG
    config folder, else defaults only). Secrets come from $SOCIALBOT_SECRETS or `secrets_path`, and from
    the environment variables the installed platforms and features declare (`SecretSpec`).
    """
    env = os.environ if environ is None else environ
    declared = installed_declarations()
    location = locate_config(path, env, cwd)
    config_file = location.path
    data: dict[str, Any] = {}
    if config_file is not None:
        data = _read_toml(config_file)
        source, base_dir = str(config_file), config_file.resolve().parent
    else:
        source, base_dir = "(defaults)", (cwd or Path.cwd())
    if any(key in data for key in ("secrets", *declared.secret_env_names)) or _contains_token_key(data):
        raise ConfigError(source, "secrets", "tokens belong in the environment or a secrets file, not here")
    overridden = _apply_env_overrides(data, env)
    try:
        settings = settings_model(declared.sections).model_validate(data)
    except ValidationError as exc:
        error = _first_error(exc, source, dict(declared.retired_keys))
        if error.key in overridden:
            error = ConfigError(
                f"environment {ENV_PREFIX}{error.key.replace('.', '__').upper()}", error.key, error.reason
            )
        raise error from None
    chosen_secrets = secrets_path or env.get(SECRETS_PATH_ENV) or None
    secrets = load_secrets(Path(chosen_secrets).expanduser() if chosen_secrets else None, env, declared)
    return LoadedConfig(
        settings=settings,
        secrets=secrets,
        source=source,
        base_dir=base_dir,
        found_by=location.found_by,
    )


def section_values(section: BaseModel, target: type, **overrides: Any) -> dict[str, Any]:
    """The keys of `section` that the dataclass `target` has a field of the same name for, then `overrides`:
    a component's settings are its section's keys, never copied one by one."""
    names = {field.name for field in dataclasses.fields(target)}
    values = {name: getattr(section, name) for name in type(section).model_fields if name in names}
    return {**values, **overrides}


def _contains_token_key(data: Mapping[str, Any]) -> bool:
    for section in data.values():
        if isinstance(section, dict) and any(key in ("token", "bot_token", "api_key") for key in section):
            return True
    return False
