# Switchboard: `make help` lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never

# uv from PATH, else a private copy installed with pip into .tools/ (works on a bare Python).
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)

.PHONY: help install run test check lint format typecheck contracts bench clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

.tools/bin/uv:
	python3 -m venv .tools && .tools/bin/pip install --quiet uv

install: $(if $(findstring .tools,$(UV)),.tools/bin/uv) ## Install every package of the workspace (one lock file)
	$(UV) sync --all-packages --frozen --quiet

run: install ## Run the whole platform on embedded PostgreSQL and Kafka (Ctrl-C stops it)
	$(UV) run switchboard run

test: install ## Run the whole test suite on a real broker and a real PostgreSQL
	$(UV) run pytest

check: lint typecheck ## ruff and mypy --strict, as CI runs them

lint: install ## ruff format --check and ruff check
	$(UV) run ruff format --check .
	$(UV) run ruff check .

typecheck: install ## mypy --strict over libraries and services
	$(UV) run mypy libs services

format: install ## Format and autofix
	$(UV) run ruff format .
	$(UV) run ruff check --fix .

contracts: install ## Regenerate docs/events.asyncapi.json from the event models
	$(UV) run python -m switchboard.contracts.asyncapi > docs/events.asyncapi.json

bench: install ## Run the benchmarks (see bench/README.md)
	$(UV) run python bench/gateway_ingest.py
	$(UV) run python bench/end_to_end.py
	$(UV) run python bench/conversation.py

clean: ## Remove local state (embedded database, logs, generated keys)
	rm -rf .switchboard .tools
