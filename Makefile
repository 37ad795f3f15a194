# CloudCostGuard — the single entry point. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export CCG_TEST_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/cloudcostguard_test

.DEFAULT_GOAL := help

##@ General
.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} /^[a-zA-Z0-9_-]+:.*?##/ { printf "  %-14s %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development
.PHONY: install
install: ## Create .venv and install the package with its development tools.
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python scripts/install_tools.py $(BIN)

.PHONY: fmt
fmt: ## Format and fix lint in place.
	$(BIN)/ruff format operator tests benchmarks scripts
	$(BIN)/ruff check --fix operator tests benchmarks scripts

.PHONY: lint
lint: ## Lint, check formatting, type-check, check the layer contracts (import-linter).
	$(BIN)/ruff check operator tests benchmarks scripts
	$(BIN)/ruff format --check operator tests benchmarks scripts
	$(MAKE) --no-print-directory typecheck
	$(BIN)/lint-imports --no-cache

.PHONY: typecheck
typecheck: ## mypy --strict on the package.
	$(BIN)/mypy

.PHONY: test
test: ## Run every test (PostgreSQL tests need CCG_TEST_DATABASE_URL; see README).
	$(BIN)/pytest -q tests

.PHONY: reliability
reliability: ## Run the reliability tests, long cases (minutes) included; figures in RELIABILITY.md.
	$(BIN)/pytest -q -s -m "reliability_long or not reliability_long" tests/reliability

.PHONY: test-unit
test-unit: ## Run the unit tests only (no database, no API server).
	$(BIN)/pytest -q tests/unit

##@ Build
.PHONY: manifests
manifests: ## Generate crds/*.yaml (and the chart's copy) from the CRD models, and docs/reference/ (tests fail on drift).
	$(BIN)/python -m cloudcostguard.k8s.api.crdgen crds
	rm -f charts/cloudcostguard/crds/*.yaml
	cp crds/cloudcostguard.io_*.yaml charts/cloudcostguard/crds/
	$(BIN)/python scripts/docs_reference.py

.PHONY: settings-defaults
settings-defaults: ## Regenerate cloudcostguard/settings_defaults.py from the Settings model (a test fails on drift).
	$(BIN)/python scripts/settings_defaults.py

.PHONY: pricer-index
pricer-index: ## Regenerate cloudcostguard/estimation/pricer_index.py (type → pricer module; a test fails on drift).
	$(BIN)/python scripts/pricer_index.py

.PHONY: snapshot
snapshot: ## Rebuild the bundled price snapshot from ../shared/pricing-data and ../shared/pricing-samples.
	$(BIN)/python scripts/build_price_snapshot.py

TOFU_FIXTURE := tests/fixtures/tofu

.PHONY: tofu-fixture
tofu-fixture: ## Re-plan tests/fixtures/tofu/main.tf with real Terraform and rewrite its tofu-controller Secrets.
	@work=$$(mktemp -d) && trap 'rm -rf "$$work"' EXIT && \
	$(BIN)/python scripts/plan_fixtures.py $(TOFU_FIXTURE) --output "$$work/plan.json" && \
	$(BIN)/python scripts/tofu_plan_secrets.py "$$work/plan.json" $(TOFU_FIXTURE) --name platform --namespace flux-system

.PHONY: gitops-samples
gitops-samples: ## Rewrite the Argo CD health samples (config/argocd/resource_customizations) from the operator's code.
	$(BIN)/python -m tests.unit.gitops.states

.PHONY: fixtures
fixtures: ## Re-plan tests/fixtures/{infracost,terraform}/*/plan.json from their main.tf with real Terraform (CASES=… for some).
	$(BIN)/python scripts/plan_fixtures.py $(CASES)

.PHONY: bench
bench: ## Run the benchmarks (prints figures; see BENCHMARKS.md).
	@for script in benchmarks/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

##@ Deployment
IMG ?= cloudcostguard:latest

.PHONY: docker-build
docker-build: ## Build the operator image (IMG=name:tag; needs a Docker engine).
	docker build -t $(IMG) .

.PHONY: deploy
deploy: ## Install CRDs, RBAC, operator, webhook and cert-manager Certificate into the current kubectl context.
	kubectl apply -k config/default

.PHONY: undeploy
undeploy: ## Remove what `make deploy` installed (CostEstimates and CostPolicies go with their CRDs).
	kubectl delete -k config/default --ignore-not-found

.PHONY: test-e2e
test-e2e: ## Real-cluster tests: kind + Docker image, installed with Helm and kustomize (skip with the reason without them).
	$(BIN)/pytest -q tests/e2e
