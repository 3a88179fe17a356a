all: test

.PHONY: setup run chat test test-fast lint bench eval

setup:
	bash scripts/setup.sh

run: setup
	.venv/bin/socialbot run

chat: setup
	.venv/bin/socialbot chat

test: setup
	.venv/bin/python -m pytest -q -p no:cacheprovider

test-fast: setup
	.venv/bin/python -m pytest -q -m "not model"

lint: setup
	.venv/bin/ruff check . 
	.venv/bin/ruff format --check .
	.venv/bin/mypy bot adapters cli

bench: setup
	.venv/bin/socialbot bench --json var/bench.json

eval: setup
	.venv/bin/socialbot eval moderation
	.venv/bin/socialbot eval kb
