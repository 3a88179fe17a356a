"""Uploaded knowledge-base files: safe names inside one folder, a size limit, text only."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from urllib.parse import unquote

from bot.dashboard import DashboardError
from bot.kb.documents import SUPPORTED_SUFFIXES

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_NAME_CHARS = 80


def safe_file_name(name: str) -> str:
    """A file name with no folders, no leading dots and only `[A-Za-z0-9._-]`; raises `DashboardError`."""
    base = unicodedata.normalize("NFKD", unquote(name).replace("\\", "/").rsplit("/", 1)[-1])
    base = base.encode("ascii", "ignore").decode("ascii")
    cleaned = _UNSAFE.sub("_", base).strip("._-")
    stem, dot, suffix = cleaned.rpartition(".")
    if not dot or not stem:
        raise DashboardError(f"'{name}' has no file type; use {', '.join(sorted(SUPPORTED_SUFFIXES))}")
    suffix = "." + suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise DashboardError(f"'{name}': unsupported file type {suffix}; use {', '.join(sorted(SUPPORTED_SUFFIXES))}")
    return stem[: MAX_NAME_CHARS - len(suffix)] + suffix


def check_content(data: bytes, max_bytes: int) -> str:
    """The upload as text; refuses empty, over-size and binary files."""
    if not data.strip():
        raise DashboardError("the file is empty")
    if len(data) > max_bytes:
        raise DashboardError(f"the file is larger than the {max_bytes:,} bytes allowed ([dashboard] max_upload_bytes)")
    if b"\x00" in data[:4096]:
        raise DashboardError("the file looks binary; upload Markdown, text, HTML, CSV or JSON")
    return data.decode("utf-8", errors="replace")


def write_upload(folder: Path, name: str, data: bytes, max_bytes: int) -> Path:
    """Save `data` as `folder/<safe name>` (replacing an earlier upload of that name) and return the path."""
    check_content(data, max_bytes)
    folder.mkdir(parents=True, exist_ok=True)
    target = (folder / safe_file_name(name)).resolve()
    if target.parent != folder.resolve():
        raise DashboardError(f"'{name}' is not a plain file name")
    temporary = target.with_name(f".{target.name}.part")
    temporary.write_bytes(data)
    temporary.replace(target)
    return target


def is_upload(folder: Path, source: str) -> bool:
    """Whether a document's source is a file this dashboard uploaded (only those are edited in place)."""
    try:
        return Path(source).resolve().parent == folder.resolve()
    except OSError:
        return False
