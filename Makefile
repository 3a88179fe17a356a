all: test

.PHONY: setup run chat test test-fast lint bench eval train

setup:
	bash scripts/setup.sh

# `make run CONFIG=path/to/socialbot.toml`; without CONFIG the usual discovery applies (see README).
CONFIG ?=
CONFIG_OPTION = $(if $(CONFIG),--config "$(CONFIG)")

run: setup
	.venv/bin/socialbot $(CONFIG_OPTION) run

chat: setup
	.venv/bin/socialbot $(CONFIG_OPTION) chat

test: setup
	.venv/bin/python -m pytest -q -p no:cacheprovider

test-fast: setup
	.venv/bin/python -m pytest -q -m "not model"

lint: setup
	.venv/bin/ruff check . 
	.venv/bin/ruff format --check .
	.venv/bin/mypy bot adapters

bench: setup
	.venv/bin/socialbot bench --json var/bench.json

eval: setup
	.venv/bin/socialbot eval moderation
	.venv/bin/socialbot eval kb

# Rebuild the shipped classifiers from the data in the repo (seeds and recipes in their metadata JSON).
train: setup
	.venv/bin/python scripts/train_moderation.py
	.venv/bin/python scripts/refit_offensive_head.py
	.venv/bin/python scripts/train_cold.py
	.venv/bin/python scripts/train_harm.py
	.venv/bin/python scripts/train_answerability.py --cv 3
	.venv/bin/python scripts/fit_kb_decline.py
	.venv/bin/python scripts/train_sentiment.py --final
	.venv/bin/python scripts/fit_kb_confidence.py --judge
