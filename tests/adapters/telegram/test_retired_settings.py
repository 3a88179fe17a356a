"""Telegram settings that `[delivery]` replaced: an old config that still sets one says so when it loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.telegram.settings import TelegramSection
from bot.config import ConfigError, load_config


@pytest.mark.parametrize(
    ("key", "value", "hint"),
    [
        ("shutdown_grace_s", "10", "[delivery] shutdown_grace_s"),
        ("max_inflight_updates", "100", "stored as it arrives"),
        ("busy_poll_interval_s", "1.0", "getUpdates"),
    ],
)
def test_an_old_config_setting_a_retired_telegram_key_fails_naming_file_key_and_replacement(
    tmp_path: Path, key: str, value: str, hint: str
) -> None:
    config = tmp_path / "socialbot.toml"
    config.write_text(f"[telegram]\npoll_timeout_s = 5\n{key} = {value}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(config, environ={})
    error = raised.value
    assert (error.source, error.key) == (str(config), f"telegram.{key}")
    assert error.reason.startswith("no longer used") and hint in error.reason


def test_a_config_without_the_retired_keys_loads_and_delivery_holds_the_grace_period(tmp_path: Path) -> None:
    config = tmp_path / "socialbot.toml"
    config.write_text("[telegram]\npoll_timeout_s = 5\n[delivery]\nshutdown_grace_s = 3\n", encoding="utf-8")
    loaded = load_config(config, environ={})
    assert loaded.settings.delivery.shutdown_grace_s == 3
    assert not hasattr(loaded.section(TelegramSection), "shutdown_grace_s")
