import logging

import pytest

from bot.secret_logging import REPLACEMENT, keep_out_of_logs, redact_secrets

SECRET = "123456:SECRET-token-value"


def test_a_registered_secret_is_replaced_in_records_of_any_logger(caplog: pytest.LogCaptureFixture) -> None:
    keep_out_of_logs(SECRET)
    caplog.set_level(logging.DEBUG)
    logging.getLogger("some.library.nobody.listed").debug("POST http://127.0.0.1/bot%s/getUpdates", SECRET)
    assert SECRET not in caplog.text
    assert f"bot{REPLACEMENT}/getUpdates" in caplog.text


def test_a_secret_inside_an_exception_traceback_is_replaced(caplog: pytest.LogCaptureFixture) -> None:
    keep_out_of_logs(SECRET)
    try:
        raise ConnectionError(f"cannot reach https://api.example/bot{SECRET}/getMe")
    except ConnectionError:
        logging.getLogger("another.library").exception("request failed")
    assert "request failed" in caplog.text and "ConnectionError" in caplog.text
    assert SECRET not in caplog.text


def test_short_values_are_not_treated_as_secrets() -> None:
    keep_out_of_logs("abc")
    assert redact_secrets("abc def") == "abc def"
    assert redact_secrets(f"x {SECRET} y") == f"x {REPLACEMENT} y"
