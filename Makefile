# Every command a person or CI runs. The README shows the two that matter: `make up` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
INFRA_ENV := .cache/infra/infra.env
PYTEST_ARGS ?=

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

.PHONY: install
install: ## install uv (if missing) and every Python dependency from uv.lock, on an optimised CPython (scripts/python.sh)
	@command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet --disable-pip-version-check uv
	@py="$$(bash scripts/python.sh)"; if [[ -n "$$py" ]]; then export UV_PYTHON="$$py"; fi; uv sync --frozen --quiet

.PHONY: infra-up infra-down infra-status
infra-up: ## start Kafka and Postgres without Docker (idempotent)
	@bash infra/up.sh
infra-down: ## stop Kafka and Postgres
	@bash infra/down.sh
infra-status: ## say whether Kafka and Postgres are running
	@bash infra/status.sh

.PHONY: browser
browser: ## install Debian's Chromium for the console's browser tests (when missing)
	@bash scripts/browser.sh

.PHONY: screenshots
screenshots: install infra-up browser ## refresh docs/screenshots from the console's browser tests
	@set -a; . $(INFRA_ENV); set +a; CONSOLE_SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots uv run pytest tests/browser $(PYTEST_ARGS)

.PHONY: up down status
up: install infra-up ## bring up infrastructure, the four services and the web console, then walk a customer through them (a ticket, an alert, a question)
	@bash scripts/up.sh
down: ## stop the services, the console and the infrastructure
	@bash scripts/down.sh
	@bash infra/down.sh
status: infra-status ## show the services and the infrastructure
	@bash scripts/status.sh

.PHONY: schemas
schemas: install ## write JSON Schema (schemas/jsonschema) and AsyncAPI (schemas/asyncapi) from the event models
	@uv run care-schemas export

.PHONY: lint
lint: install ## ruff, format check, mypy --strict, JSON Schema freshness
	@uv run ruff check .
	@uv run ruff format --check .
	@uv run mypy schemas/src libs/carekit/src libs/carekit-testing/src services/plan-service/src services/ticket-service/src services/notify-service/src services/assistant-service/src services/console/src tools/carectl/src
	@uv run care-schemas export --check

.PHONY: tools
GO_TOOLS ?= amtool
tools: ## install pinned Go tools into .cache/tools/bin (amtool; GO_TOOLS="amtool promtool" for more); quick when there
	@bash scripts/go-tools.sh $(GO_TOOLS) >/dev/null

.PHONY: test
test: install infra-up browser lint tools ## run every test against real Kafka and Postgres (starts them), the console in Chromium
	@DOWN_REASON="make test: stopping what make up left running (its assistant would answer the tests' chat questions on the shared broker); make up starts it again" bash scripts/down.sh
	@set -a; . $(INFRA_ENV); set +a; bash scripts/test.sh $(PYTEST_ARGS)

.PHONY: test-unit
test-unit: install ## only the tests that need no broker or database
	@uv run pytest -m unit $(PYTEST_ARGS)

.PHONY: bench bench-am
bench: install infra-up ## run the benchmarks (they print figures)
	@set -a; . $(INFRA_ENV); set +a; for b in bench/bench_*.py; do uv run python "$$b"; done
BENCH_AM_ARGS ?= all --repeat 2
bench-am: install infra-up ## notify-service vs Prometheus Alertmanager (builds it once); BENCH_AM_ARGS="table --quick"
	@set -a; . $(INFRA_ENV); set +a; uv run python bench/bench_vs_alertmanager.py $(BENCH_AM_ARGS)
