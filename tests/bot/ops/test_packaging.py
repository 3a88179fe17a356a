"""The package metadata installs without setuptools deprecation warnings."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _pyproject() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_licence_is_an_spdx_expression_string() -> None:
    project = _pyproject()["project"]
    assert isinstance(project, dict)
    assert project["license"] == "Apache-2.0"
    assert not any(str(c).startswith("License ::") for c in project.get("classifiers", []))


def test_build_requires_a_setuptools_that_reads_spdx_licences() -> None:
    build = _pyproject()["build-system"]
    assert isinstance(build, dict)
    (requirement,) = [r for r in build["requires"] if str(r).startswith("setuptools")]
    match = re.fullmatch(r"setuptools>=(\d+)(?:\.\d+)*", str(requirement))
    assert match is not None and int(match.group(1)) >= 77  # PEP 639 support arrived in setuptools 77
