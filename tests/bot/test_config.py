"""Config: one TOML file, env overrides for every key, secrets apart, errors naming file, key and reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, Secrets, Settings, load_config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bot.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_empty_file_gives_defaults(tmp_path: Path) -> None:
    loaded = load_config(write(tmp_path, ""), environ={})
    assert loaded.settings.model.name == "bundled:smollm2"
    assert loaded.database_path == tmp_path / "var" / "socialbot.db"


def test_unknown_key_names_file_key_and_reason(tmp_path: Path) -> None:
    path = write(tmp_path, "[bot]\nnmae = 'x'\n")
    with pytest.raises(ConfigError) as error:
        load_config(path, environ={})
    assert str(error.value) == f"{path}: bot.nmae: unknown key"


def test_wrong_type_names_the_key(tmp_path: Path) -> None:
    path = write(tmp_path, "[generation]\nmax_new_tokens = 'many'\n")
    with pytest.raises(ConfigError) as error:
        load_config(path, environ={})
    assert error.value.key == "generation.max_new_tokens"
    assert "integer" in error.value.reason
    assert str(path) in str(error.value)


def test_syntax_error_is_reported_with_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[bot\n")
    with pytest.raises(ConfigError) as error:
        load_config(path, environ={})
    assert error.value.source == str(path)
    assert error.value.key == "(syntax)"


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.toml", environ={})


def test_environment_overrides_any_key(tmp_path: Path) -> None:
    path = write(tmp_path, "[generation]\nmax_new_tokens = 50\n")
    environ = {
        "SOCIALBOT__GENERATION__MAX_NEW_TOKENS": "12",
        "SOCIALBOT__BOT__NAME": "Shopbot",
        "SOCIALBOT__MODERATION__BLOCKLIST": '["foo", "bar"]',
    }
    settings = load_config(path, environ=environ).settings
    assert settings.generation.max_new_tokens == 12
    assert settings.bot.name == "Shopbot"
    assert settings.moderation.blocklist == ["foo", "bar"]


def test_bad_environment_override_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, ""), environ={"SOCIALBOT__GENERATION__TOP_P": "7"})
    assert "SOCIALBOT__GENERATION__TOP_P" in error.value.source


def test_config_path_comes_from_the_environment(tmp_path: Path) -> None:
    path = write(tmp_path, "[bot]\nname = 'FromEnv'\n")
    assert load_config(environ={"SOCIALBOT_CONFIG": str(path)}).settings.bot.name == "FromEnv"


def test_tokens_in_the_main_file_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="secrets file"):
        load_config(write(tmp_path, "[telegram]\ntoken = '123:abc'\n"), environ={})


def test_secrets_come_from_env_or_secrets_file_and_never_print(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.toml"
    secrets.write_text("discord_bot_token = 'file-token-value'\n", encoding="utf-8")
    loaded = load_config(
        write(tmp_path, ""), secrets_path=secrets, environ={"TELEGRAM_BOT_TOKEN": "123456:env-token-value"}
    )
    assert loaded.secrets.value("telegram_bot_token") is not None
    assert loaded.secrets.value("telegram_bot_token").get_secret_value() == "123456:env-token-value"
    assert loaded.secrets.value("discord_bot_token") is not None
    assert "file-token-value" not in repr(loaded) and "env-token-value" not in str(loaded.secrets)


def test_unknown_key_in_secrets_file_is_named(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.toml"
    secrets.write_text("slack_token = 'x'\n", encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, ""), secrets_path=secrets, environ={})
    assert (error.value.source, error.value.key, error.value.reason) == (str(secrets), "slack_token", "unknown key")


def test_example_config_is_valid() -> None:
    example = Path(__file__).resolve().parents[2] / "socialbot.example.toml"
    assert load_config(example, environ={}).settings.bot.name


def test_the_core_declares_only_its_own_sections_and_secret() -> None:
    assert set(Settings.model_fields) == {"bot", "model", "generation", "moderation", "logging", "delivery"}
    assert set(Secrets.model_fields) == {"openai_api_key"}


def test_a_feature_section_is_validated_with_the_same_one_line_error(tmp_path: Path) -> None:
    path = write(tmp_path, "[kb]\ntop_k = 99\n")
    with pytest.raises(ConfigError) as error:
        load_config(path, environ={})
    assert (error.value.source, error.value.key) == (str(path), "kb.top_k")
    assert "less than or equal to 5" in error.value.reason


def test_a_typo_in_a_platform_section_and_an_unknown_section_are_named(tmp_path: Path) -> None:
    path = write(tmp_path, "[discord]\nguild_reply_mod = 'always'\n")
    with pytest.raises(ConfigError) as error:
        load_config(path, environ={})
    assert str(error.value) == f"{path}: discord.guild_reply_mod: unknown key"
    path = write(tmp_path, "[nosuchfeature]\nenabled = true\n")
    with pytest.raises(ConfigError) as error:
        load_config(path, environ={})
    assert str(error.value) == f"{path}: nosuchfeature: unknown key"


def test_feature_and_platform_sections_are_read_by_their_own_models(tmp_path: Path) -> None:
    from adapters.telegram.settings import TelegramSection
    from bot.kb.settings import KbSection

    path = write(tmp_path, "[kb]\ntop_k = 3\n[telegram]\nmode = 'webhook'\n")
    loaded = load_config(path, environ={"SOCIALBOT__KB__ANSWER_THRESHOLD": "0.5"})
    assert (loaded.section(KbSection).top_k, loaded.section(KbSection).answer_threshold) == (3, 0.5)
    assert loaded.section(TelegramSection).mode == "webhook"
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, ""), environ={"SOCIALBOT__KB__TOP_K": "9"})
    assert (error.value.source, error.value.key) == ("environment SOCIALBOT__KB__TOP_K", "kb.top_k")


def test_platform_tokens_are_the_secrets_the_platforms_declare(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.toml"
    secrets.write_text("dashboard_password = 'owner-password'\n", encoding="utf-8")
    loaded = load_config(write(tmp_path, ""), secrets_path=secrets, environ={"DISCORD_BOT_TOKEN": "discord-value"})
    assert loaded.secrets.value("telegram_bot_token") is None
    token = loaded.secrets.value("discord_bot_token")
    assert token is not None and token.get_secret_value() == "discord-value"
    assert "discord-value" not in repr(loaded.secrets) and "owner-password" not in str(loaded.secrets)
    assert loaded.secrets.value("no_such_secret") is None
