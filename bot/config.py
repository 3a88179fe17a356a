"""Settings: one TOML file, environment overrides for every key, secrets kept apart.

Every section is a pydantic model that forbids unknown keys, so a typo stops the bot at start with one line
naming the file, the key and the reason (`ConfigError`). Secrets (bot tokens) are never read from the main
file: only from the environment or a secrets file, and they are `SecretStr` so they never print.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from bot.dashboard.settings import DashboardSection
from bot.dispatch.settings import DeliverySection
from bot.insight.settings import InsightSection
from bot.ops.settings import MetricsSection
from bot.policy.settings import PolicySection
from bot.privacy.settings import PrivacySection
from bot.secret_logging import keep_out_of_logs

CONFIG_PATH_ENV = "SOCIALBOT_CONFIG"
SECRETS_PATH_ENV = "SOCIALBOT_SECRETS"
ENV_PREFIX = "SOCIALBOT__"
SECRET_ENV_NAMES = {
    "telegram_bot_token": "TELEGRAM_BOT_TOKEN",
    "discord_bot_token": "DISCORD_BOT_TOKEN",
    "openai_api_key": "SOCIALBOT_OPENAI_API_KEY",
    "dashboard_password": "SOCIALBOT_DASHBOARD_PASSWORD",
}


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
    kv_cache_budget_mb: int = Field(1024, ge=0, description="Keys/values kept for idle conversations.")
    kv_dtype: Literal["auto", "float32", "bfloat16"] = Field(
        "auto", description="Storage of cached keys/values; 'auto' is bfloat16 on CPU (half the memory)."
    )
    prefill_chunk_tokens: int = Field(256, ge=16)
    native_attention: bool = Field(
        True, description="Decode attention through a small C kernel built with the machine's compiler (CPU)."
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
    hf_model: str = Field("", description="Optional HF sequence-classification model id or folder.")
    hf_offensive_label: str = "offensive"
    link_allowlist: list[str] = Field(default_factory=list, description="Domains replies may link to.")
    word_list_dir: str = Field("", description="Folder of <language>.txt word lists adding to the shipped ones.")
    word_lists: dict[str, list[str]] = Field(default_factory=dict, description="Extra words per language code.")


# Keys a release stopped reading: a config that still sets one fails to load saying what replaced it.
RETIRED_KEYS = {
    "telegram.shutdown_grace_s": "no longer used: the grace period on stop is [delivery] shutdown_grace_s",
    "telegram.max_inflight_updates": "no longer used: every update is stored as it arrives, then answered",
    "telegram.busy_poll_interval_s": "no longer used: getUpdates is called again as soon as a batch is stored",
}


class TelegramSection(Section):
    base_url: str = Field(
        "https://api.telegram.org/bot", description="Bot API base URL (a self-hosted Bot API server: its URL + /bot)."
    )
    base_file_url: str = Field("https://api.telegram.org/file/bot", description="Bot API file download base URL.")
    mode: Literal["polling", "webhook"] = Field("polling", description="Long polling, or a webhook server.")
    webhook_listen: str = Field("127.0.0.1", description="Address the webhook server listens on.")
    webhook_port: int = Field(8443, ge=0, le=65535, description="Port the webhook server listens on.")
    webhook_path: str = Field("/telegram", description="Path Telegram posts updates to.")
    webhook_url: str = Field("", description="Public https URL registered with Telegram (required in webhook mode).")
    poll_timeout_s: int = Field(30, ge=0, description="Long-poll timeout of getUpdates.")
    group_reply_mode: Literal["mention", "always", "silent"] = "mention"
    admin_cache_s: int = Field(300, ge=0)
    show_progress: bool = False
    typing_interval_s: float = Field(4.0, gt=0, description="How often the 'typing…' action is refreshed.")
    flood_messages_per_s: float = Field(30, ge=0, description="Messages per second for the whole bot; 0 = off.")
    flood_chat_interval_s: float = Field(1.0, ge=0, description="Seconds between messages in one chat; 0 = off.")
    flood_group_messages_per_min: int = Field(20, ge=0, description="Messages per minute in a group; 0 = off.")
    flood_max_retries: int = Field(5, ge=0, description="Retries of a request Telegram answered with 429.")
    network_retries: int = Field(3, ge=0, description="Retries of a request that failed on the network or 5xx.")
    network_backoff_s: float = Field(1.0, ge=0, description="First wait before a network retry; doubles each time.")


class DiscordSection(Section):
    sync_commands: Literal["global", "guild", "off"] = Field(
        "global", description="Register slash commands globally, only in command_guild_ids, or not at all."
    )
    command_guild_ids: list[int] = Field(
        default_factory=list, description="Guilds whose slash commands are synced when sync_commands = 'guild'."
    )
    admin_role: str = Field("", description="Role name (or id) that may use admin commands besides Manage Server.")
    allowed_channels: dict[str, list[int]] = Field(
        default_factory=dict,
        description="guild id -> channel ids the bot may speak in, threads included (no entry: all channels).",
    )
    guild_reply_mode: Literal["mention", "always", "silent"] = Field(
        "mention",
        description="In guild channels answer when mentioned/replied to, every message, or only slash commands.",
    )
    show_progress: bool = Field(False, description="Reserved: show generation progress (not used yet).")
    guild_ready_timeout_s: float = Field(
        2.0, gt=0, le=60, description="Seconds to wait for guild data after connecting before going live."
    )


class AutomodSection(Section):
    enabled: bool = Field(True, description="Act on offensive messages in groups (DMs are never acted on).")
    mode: Literal["off", "log", "warn", "full"] = Field("full", description="Default for every chat.")
    chat_modes: dict[str, Literal["off", "log", "warn", "full"]] = Field(
        default_factory=dict, description="'platform:chat_id' -> mode, overriding `mode` for that chat."
    )
    warn_threshold: float = Field(0.7, ge=0.0, le=1.0)
    delete_threshold: float = Field(0.85, ge=0.0, le=1.0)
    timeout_threshold: float = Field(0.95, ge=0.0, le=1.0)
    timeout_minutes: int = Field(10, ge=1)
    repeat_timeout_minutes: int = Field(60, ge=1)
    escalation_window_minutes: int = Field(1440, ge=1)
    staff_platform: str = Field("", description="Where moderators are notified, e.g. 'telegram'.")
    staff_chat_id: str = Field("", description="Chat/channel id of the moderators' staff channel.")


class LoggingSection(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    file: str = ""


class KbSection(Section):
    """Knowledge-base answers and human handoff (issue 7); thresholds calibrated on eval/kb."""

    enabled: bool = Field(True, description="Answer from the knowledge base when it holds documents.")
    top_k: int = Field(2, ge=1, le=5, description="Passages put in the grounded prompt (the model is small).")
    answer_threshold: float = Field(
        0.46, ge=0.0, le=1.0, description="Below this retrieval confidence the bot says it doesn't know."
    )
    faq_threshold: float = Field(
        0.85, ge=0.0, le=1.0, description="FAQ question similarity above which the curated answer is used."
    )
    lexical_weight: float = Field(
        0.2,
        ge=0.0,
        le=1.0,
        description="Share of BM25 in the hybrid score (chosen on the tuning intents of eval/kb_benchmarks).",
    )
    answerability_judge: bool = Field(
        True,
        description="Let the bundled cross-encoder read the question with the best passage and say whether it "
        "answers it (part of the confidence; about 10 ms per question).",
    )
    embedding_model: str = Field(
        "",
        description="Sentence-transformers model id or folder for KB retrieval (a multilingual one answers "
        "across languages); empty: the bundled all-MiniLM-L6-v2.",
    )
    answer_mode: Literal["grounded", "extractive"] = Field(
        "grounded",
        description="'grounded': the model answers from passages (checked, extractive fallback); "
        "'extractive': the best passage sentences verbatim.",
    )
    rephrase_faq: bool = Field(False, description="Let the model rephrase curated FAQ answers (facts kept).")
    cite_sources: bool = Field(True, description="End answers with the title (or link) of their source.")
    passage_chars: int = Field(700, ge=200, le=4000, description="Maximum characters of a stored passage.")
    prompt_passage_chars: int = Field(400, ge=100, le=4000, description="Passage text kept in the prompt.")
    max_new_tokens: int = Field(64, ge=8, le=512, description="Length limit of a grounded answer.")
    generate_min_chars: int = Field(
        300,
        ge=0,
        description="Ask the model for a grounded answer only when the quote would be longer than this: a "
        "shorter quote is already the answer, and the model's rewording of it would be checked and thrown away.",
    )
    pass_small_talk: bool = Field(True, description="Greetings and thanks go to the plain model, not the KB.")
    staff_platform: str = Field("", description="Platform of the staff chat that receives tickets.")
    staff_chat_id: str = Field("", description="Chat/channel id of the staff chat on staff_platform.")
    staff_thread_id: str = Field("", description="Optional thread/topic inside the staff chat.")


class SchedulerSection(Section):
    """Scheduled posting (issue 8): the outbox is retried, reported and reconciled with these settings."""

    timezone: str = Field("UTC", description="IANA zone in which schedule times like 'daily 09:00' are read.")
    grace_period_s: float = Field(
        900.0, ge=0, description="A post whose time passed while the bot was down is sent this late at most."
    )
    max_retries: int = Field(5, ge=0, le=20, description="Retries of a post after a retryable delivery error.")
    retry_base_delay_s: float = Field(30.0, gt=0, description="First retry delay; doubles on each retry.")
    retry_max_delay_s: float = Field(1800.0, gt=0, description="Longest delay between two retries.")
    poll_interval_s: float = Field(
        30.0, ge=1, description="How often the outbox is swept (retries, schedules added from the CLI)."
    )
    staff_platform: str = Field("", description="Platform of the chat told about missed/failed/unknown posts.")
    staff_chat_id: str = Field("", description="Chat/channel id of that staff chat (empty: only logged).")
    idempotent_platforms: list[str] | None = Field(
        None,
        description="Platforms that deduplicate sends by key: a post interrupted mid-send is resent there "
        "(default: the installed platforms that declare it, i.e. Discord).",
    )
    idempotency_window_s: float = Field(
        300.0, ge=0, description="How long the platform remembers a key; older interrupted posts are not resent."
    )


class SuggestSection(Section):
    """Content suggestions (issue 8): how the model drafts posts."""

    max_count: int = Field(5, ge=1, le=10, description="Most drafts one /suggest may ask for.")
    max_new_tokens: int = Field(120, ge=16, le=1024, description="Length limit of one draft.")
    temperature: float = Field(0.85, ge=0.0, le=2.0, description="Sampling temperature of drafts.")
    top_p: float = Field(0.95, gt=0.0, le=1.0, description="Nucleus sampling of drafts.")
    repetition_penalty: float = Field(1.15, ge=1.0, le=2.0)
    similarity_threshold: float = Field(
        0.6, gt=0.0, le=1.0, description="Drafts at least this similar (word Jaccard) count as repeats."
    )
    attempts_per_draft: int = Field(3, ge=1, le=10, description="Generation budget per requested draft.")
    recent_days: float = Field(7.0, gt=0, description="Recent topics come from messages of this many days.")
    recent_messages: int = Field(2000, ge=0, description="At most this many recent messages are read.")
    recent_topic_count: int = Field(5, ge=0, le=20, description="Keywords named in the draft prompt.")


class Secrets(BaseModel):
    """Bot tokens and API keys: from the environment or a secrets file, never from the main config."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    telegram_bot_token: SecretStr | None = None
    discord_bot_token: SecretStr | None = None
    openai_api_key: SecretStr | None = None
    dashboard_password: SecretStr | None = None  # plain, or a `socialbot dashboard hash-password` value


class RulesSection(Section):
    """Auto-reply rules, per-chat settings and abuse control (issue 6)."""

    enabled: bool = Field(True, description="Answer from auto-reply rules before the knowledge base and model.")
    answer_unaddressed: bool = Field(
        True, description="Rules also answer group messages that don't mention the bot (not in silent chats)."
    )
    default_cooldown_s: float = Field(30.0, ge=0.0, description="Seconds before a rule answers again in a chat.")
    semantic_threshold: float = Field(
        0.75, gt=0.0, le=1.0, description="Cosine similarity a 'similar' rule needs, unless the rule sets its own."
    )
    max_rules: int = Field(5000, ge=1, description="Most rules that may be stored.")
    user_capacity: int = Field(8, ge=0, description="Messages to the bot one user may send in a burst (0: no limit).")
    user_refill_per_minute: float = Field(6.0, ge=0.0, description="How fast a user's burst allowance refills.")
    chat_capacity: int = Field(30, ge=0, description="Messages to the bot one chat may send in a burst (0: no limit).")
    chat_refill_per_minute: float = Field(20.0, ge=0.0, description="How fast a chat's burst allowance refills.")
    admins_exempt: bool = Field(True, description="Admins are never rate limited.")


class Settings(Section):
    """The whole configuration. Every section defaults, so an empty file is a valid config."""

    bot: BotSection = BotSection()
    model: ModelSection = ModelSection()
    generation: GenerationSection = GenerationSection()
    moderation: ModerationSection = ModerationSection()
    telegram: TelegramSection = TelegramSection()
    discord: DiscordSection = DiscordSection()
    logging: LoggingSection = LoggingSection()
    # Feature sections (rules, kb, scheduler, automod, ...) are added below this line by their owners.
    scheduler: SchedulerSection = SchedulerSection()
    suggest: SuggestSection = SuggestSection()
    rules: RulesSection = RulesSection()
    automod: AutomodSection = AutomodSection()
    kb: KbSection = KbSection()
    insight: InsightSection = InsightSection()
    dashboard: DashboardSection = DashboardSection()
    privacy: PrivacySection = PrivacySection()
    metrics: MetricsSection = MetricsSection()
    delivery: DeliverySection = DeliverySection()
    policy: PolicySection = PolicySection()


class LoadedConfig(BaseModel):
    """Settings together with where they came from (relative paths resolve against `base_dir`)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)
    settings: Settings
    secrets: Secrets
    source: str
    base_dir: Path
    found_by: str = Field("--config", description="How the file was found (see `locate_config`).")
    # Sections of installed plug-in features and platforms that `Settings` does not declare, validated
    # against the models their specs name (see `bot.plugin.FeatureSpec.settings_model`).
    plugin_sections: dict[str, BaseModel] = Field(default_factory=dict)

    def resolve_path(self, value: str) -> Path:
        """A path from the config, relative to the config file's folder unless absolute."""
        path = Path(os.path.expanduser(value))
        return path if path.is_absolute() else self.base_dir / path

    @property
    def database_path(self) -> Path:
        if self.settings.bot.database == ":memory:":
            return Path(":memory:")
        return self.resolve_path(self.settings.bot.database)


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


def _first_error(error: ValidationError, source: str) -> ConfigError:
    detail = error.errors()[0]
    key = ".".join(str(part) for part in detail["loc"]) or "(root)"
    reason = detail["msg"]
    if detail["type"] == "extra_forbidden":
        reason = RETIRED_KEYS.get(key, "unknown key")
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


def load_secrets(path: Path | None, environ: Mapping[str, str]) -> Secrets:
    """Secrets from the secrets file (if any) with environment variables taking precedence."""
    values: dict[str, Any] = {}
    source = "secrets"
    if path is not None:
        source = str(path)
        values.update(_read_toml(path))
    for key, env_name in SECRET_ENV_NAMES.items():
        if environ.get(env_name):
            values[key] = environ[env_name]
    try:
        secrets = Secrets.model_validate(values)
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
    TELEGRAM_BOT_TOKEN / DISCORD_BOT_TOKEN.
    """
    env = os.environ if environ is None else environ
    location = locate_config(path, env, cwd)
    config_file = location.path
    data: dict[str, Any] = {}
    if config_file is not None:
        data = _read_toml(config_file)
        source, base_dir = str(config_file), config_file.resolve().parent
    else:
        source, base_dir = "(defaults)", (cwd or Path.cwd())
    if any(key in data for key in ("secrets", *SECRET_ENV_NAMES)) or _contains_token_key(data):
        raise ConfigError(source, "secrets", "tokens belong in the environment or a secrets file, not here")
    overridden = _apply_env_overrides(data, env)
    try:
        plugin_sections = _validate_plugin_sections(data)
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        error = _first_error(exc, source)
        if error.key in overridden:
            error = ConfigError(
                f"environment {ENV_PREFIX}{error.key.replace('.', '__').upper()}", error.key, error.reason
            )
        raise error from None
    chosen_secrets = secrets_path or env.get(SECRETS_PATH_ENV) or None
    secrets = load_secrets(Path(chosen_secrets).expanduser() if chosen_secrets else None, env)
    return LoadedConfig(
        settings=settings,
        secrets=secrets,
        source=source,
        base_dir=base_dir,
        found_by=location.found_by,
        plugin_sections=plugin_sections,
    )


def section_values(section: BaseModel, target: type, **overrides: Any) -> dict[str, Any]:
    """The keys of `section` that the dataclass `target` has a field of the same name for, then `overrides`:
    a component's settings are its section's keys, never copied one by one."""
    names = {field.name for field in dataclasses.fields(target)}
    values = {name: getattr(section, name) for name in type(section).model_fields if name in names}
    return {**values, **overrides}


def plugin_section_models() -> dict[str, type[BaseModel]]:
    """The config sections installed features and platforms declare (`settings_section`, `settings_model` of
    their specs in the `socialbot.features` / `socialbot.platforms` entry point groups)."""
    from bot.entry_points import FEATURE_GROUP, PLATFORM_GROUP, load_declared

    models: dict[str, type[BaseModel]] = {}
    for group in (FEATURE_GROUP, PLATFORM_GROUP):
        for _, spec in load_declared(group):
            name, model = getattr(spec, "settings_section", ""), getattr(spec, "settings_model", None)
            if name and isinstance(model, type) and issubclass(model, BaseModel):
                models[name] = model
    return models


class _PluginSections(BaseModel):
    """Wraps one plug-in section so its errors carry the section name, like the core's sections."""

    model_config = ConfigDict(extra="forbid")


def _validate_plugin_sections(data: dict[str, Any]) -> dict[str, BaseModel]:
    """Take out and validate the sections that installed plug-ins declare and `Settings` does not (every
    section defaults: a plug-in section missing from the file is built from its model's defaults)."""
    from pydantic import create_model

    models = {name: model for name, model in plugin_section_models().items() if name not in Settings.model_fields}
    if not models:
        return {}
    raw = {name: data.pop(name) for name in list(data) if name in models}
    wrapper = create_model(  # type: ignore[call-overload]
        "PluginSections", __base__=_PluginSections, **{name: (model, model()) for name, model in models.items()}
    )
    validated = wrapper.model_validate(raw)
    return {name: getattr(validated, name) for name in models}


def _contains_token_key(data: Mapping[str, Any]) -> bool:
    for section in data.values():
        if isinstance(section, dict) and any(key in ("token", "bot_token", "api_key") for key in section):
            return True
    return False
