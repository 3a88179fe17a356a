"""Build-and-cache for the project's C kernels: compiled once per machine at run time, then loaded with ctypes.

Building needs only a C compiler (``$CC``, ``gcc`` or ``cc``); each shared library is cached under
``~/.cache/socialbot/kernels`` (or ``$SOCIALBOT_KERNEL_CACHE``) keyed by its sources, the compiler, the flags
and the CPU, so ``-march=native`` never runs on a CPU it was not built for. Callers catch ``OSError`` and
``subprocess.SubprocessError`` and keep their slower path. No torch import: the numpy MiniLM uses it too.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

COMMON_FLAGS = ("-O3", "-fno-math-errno", "-std=c11", "-fPIC", "-shared")


def kernel_cache_dir() -> Path:
    """Where built kernels are kept."""
    return Path(os.environ.get("SOCIALBOT_KERNEL_CACHE") or Path.home() / ".cache" / "socialbot" / "kernels")


def find_compiler() -> str | None:
    """``$CC``, else gcc or cc on the PATH; None when there is none."""
    return os.environ.get("CC") or shutil.which("gcc") or shutil.which("cc")


def build_key(compiler: str, flags: Sequence[str], sources: Sequence[Path]) -> str:
    """A digest of everything the library depends on: every source file (included ones too), compiler, flags, CPU."""
    digest = hashlib.sha256()
    for source in sources:
        digest.update(source.read_bytes())
    for part in (compiler, *flags, platform.machine(), _cpu_flags()):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()[:16]


def _cpu_flags() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            return next((line for line in cpuinfo if line.startswith(("flags", "Features"))), "")
    except OSError:
        return platform.processor()


def compile_library(compiler: str, flags: Sequence[str], target: Path, source: Path) -> None:
    """Compile ``source`` into the shared library ``target``, atomically (a concurrent build never sees half a
    file). Raises ``subprocess.SubprocessError`` with the compiler's last words, or ``OSError``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(suffix=".so", dir=target.parent)
    os.close(descriptor)
    try:
        completed = subprocess.run(
            [compiler, *flags, "-o", temporary, str(source), "-lm"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if completed.returncode != 0:
            raise subprocess.SubprocessError(completed.stderr.strip()[-500:] or f"exit code {completed.returncode}")
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def build_and_load(
    name: str,
    compiler: str,
    flags: Sequence[str],
    source: Path,
    included: Sequence[Path] = (),
    cache_dir: Path | None = None,
) -> tuple[ctypes.CDLL, Path]:
    """The library built from ``source`` (which may ``#include`` the ``included`` files), compiled first unless the
    cache holds it; returns it with its path. Raises ``OSError`` or ``subprocess.SubprocessError``."""
    directory = cache_dir or kernel_cache_dir()
    path = directory / f"{name}-{build_key(compiler, flags, (source, *included))}.so"
    if not path.exists():
        compile_library(compiler, flags, path, source)
    return ctypes.CDLL(str(path)), path
