"""Secrets never reach a log record, whichever library, logger or handler writes it.

A filter on chosen loggers misses records from loggers nobody listed and records written after it is removed (a
request that finishes while an adapter stops). Redacting where records are made covers every logger and handler,
pytest's capture included.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from typing import Any

REPLACEMENT = "<secret>"
_MIN_SECRET_LENGTH = 6

_lock = threading.Lock()
_secrets: frozenset[str] = frozenset()
_previous_factory: Callable[..., logging.LogRecord] | None = None


def keep_out_of_logs(secret: str) -> None:
    """Replace `secret` by `REPLACEMENT` in every log record made from now on, in this process."""
    global _secrets, _previous_factory
    value = secret.strip()
    if len(value) < _MIN_SECRET_LENGTH:
        return
    with _lock:
        _secrets = _secrets | {value}
        if _previous_factory is None:
            _previous_factory = logging.getLogRecordFactory()
            logging.setLogRecordFactory(_redacting_factory)


def redact_secrets(text: str) -> str:
    """`text` with every registered secret replaced."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, REPLACEMENT)
    return text


def _redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    assert _previous_factory is not None
    record = _previous_factory(*args, **kwargs)
    secrets = _secrets
    if not secrets:
        return record
    try:
        message = record.getMessage()
    except Exception:  # a record whose arguments do not fit its format: logging reports that itself
        return record
    if any(secret in message for secret in secrets):
        record.msg, record.args = redact_secrets(message), None
    if record.exc_info and record.exc_info[1] is not None:
        text = "".join(traceback.format_exception(*record.exc_info))
        if any(secret in text for secret in secrets):
            record.exc_text = redact_secrets(text).rstrip("\n")
    return record
