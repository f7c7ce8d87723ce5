.DEFAULT_GOAL := help
VENV := .venv/bin

help: ## Show this help
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

setup: ## Create .venv, install the package with extras, fetch the Kafka jars
	./scripts/setup

demo: ## Run the demo on a local broker with bundled real data
	./scripts/demo

test: ## Run the whole test suite against a real local Kafka
	./scripts/test

lint: ## ruff check + format check
	$(VENV)/ruff check streams tests bench
	$(VENV)/ruff format --check streams tests bench

typecheck: ## mypy (strict for streams/core)
	$(VENV)/mypy

vendor: ## Fetch uPlot from npm into streams/dashboard/static/vendor (then commit it)
	./scripts/vendor-uplot

screenshots: ## Regenerate docs/dashboard.png and docs/audit-report.png (browser tests)
	./scripts/screenshots

bench: ## Run every benchmark and rewrite docs/benchmarks.md
	$(VENV)/python -m bench

.PHONY: help setup demo test lint typecheck bench vendor screenshots
