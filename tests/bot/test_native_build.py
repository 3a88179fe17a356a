"""The shared build-and-cache step of the C kernels."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.native_build import COMMON_FLAGS, build_and_load, build_key, find_compiler

needs_compiler = pytest.mark.skipif(shutil.which("gcc") is None and shutil.which("cc") is None, reason="no C compiler")


def test_the_cache_key_follows_every_source_the_flags_and_the_compiler(tmp_path: Path) -> None:
    main, included = tmp_path / "main.c", tmp_path / "part.c"
    main.write_text('#include "part.c"\n')
    included.write_text("int f(void) { return 1; }\n")
    key = build_key("gcc", COMMON_FLAGS, (main, included))
    assert key == build_key("gcc", COMMON_FLAGS, (main, included))
    assert key != build_key("cc", COMMON_FLAGS, (main, included))
    assert key != build_key("gcc", ("-O2",), (main, included))
    included.write_text("int f(void) { return 2; }\n")
    assert key != build_key("gcc", COMMON_FLAGS, (main, included))


@needs_compiler
def test_a_library_is_built_once_then_loaded_from_the_cache(tmp_path: Path) -> None:
    source = tmp_path / "answer.c"
    source.write_text("int socialbot_answer(void) { return 42; }\n")
    compiler = find_compiler()
    assert compiler is not None
    library, path = build_and_load("answer", compiler, COMMON_FLAGS, source, (), tmp_path / "kernels")
    assert library.socialbot_answer() == 42
    built_at = path.stat().st_mtime_ns
    _, again = build_and_load("answer", compiler, COMMON_FLAGS, source, (), tmp_path / "kernels")
    assert again == path and again.stat().st_mtime_ns == built_at
    assert [entry.name for entry in (tmp_path / "kernels").iterdir()] == [path.name]  # no temporary files left


@needs_compiler
def test_a_source_that_does_not_compile_raises_with_the_compilers_words(tmp_path: Path) -> None:
    import subprocess

    source = tmp_path / "broken.c"
    source.write_text("int broken(void) { return }\n")
    compiler = find_compiler()
    assert compiler is not None
    with pytest.raises(subprocess.SubprocessError, match="error"):
        build_and_load("broken", compiler, COMMON_FLAGS, source, (), tmp_path / "kernels")
    assert not any((tmp_path / "kernels").glob("*.so"))
