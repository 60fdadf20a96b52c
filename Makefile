# The one entry point for people and CI. `make help` lists the targets.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

ENV ?= dev
PORT ?= 8080
VENV ?= .venv
PY := $(VENV)/bin/python
# Python for the virtualenv: the Lambda runtime's version (3.12) when the machine has it.
PYTHON ?= $(shell for p in python3.12 "$$(PYENV_VERSION=3.12.1 pyenv which python3.12 2>/dev/null)" python3; do \
	[ -n "$$p" ] && "$$p" -c 'import sys; assert sys.version_info >= (3, 12)' 2>/dev/null && { echo "$$p"; break; }; done)

.PHONY: help venv tools package local smoke test lint fmt bench cost plan apply clean load redrive faults

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml requirements/dev.lock
	@test -n "$(PYTHON)" || { echo "error: Python >= 3.12 not found (set PYTHON=/path/to/python3.12)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements/dev.lock -e '.[dev]'
	@touch $@

venv: $(VENV)/.installed ## Create the virtualenv with pinned dependencies

tools: ## Create the security tools' virtualenv (.venv-tools: checkov, cfn-lint, zizmor, actionlint)
	scripts/tools-venv

package: venv ## Build deterministic Lambda zips into dist/ (prints size and sha256)
	$(PY) -m scripts.package

local: package ## Run the whole platform locally (moto + terraform apply + HTTP on 127.0.0.1:$PORT)
	$(PY) -m scripts.local_stack --port $(PORT)

smoke: venv ## Smoke-test an environment (local stack by default: reads .local/stack.json)
	$(PY) -m scripts.smoke $(if $(BASE_URL),--base-url $(BASE_URL))

test: package tools ## Run every test (unit, functional, contract, terraform, e2e, policies)
	$(PY) -m pytest -p no:benchmark -n 2 --dist loadgroup $(PYTEST_ARGS)

lint: package tools ## Static checks: ruff, mypy, terraform fmt, and the security review (checkov, cfn-lint, zizmor, actionlint)
	$(VENV)/bin/ruff check lambdas scripts tests benchmarks policies
	$(VENV)/bin/ruff format --check lambdas scripts tests benchmarks policies
	$(VENV)/bin/mypy
	terraform fmt -check -recursive
	scripts/lint-security

fmt: venv ## Format Python and Terraform
	$(VENV)/bin/ruff format lambdas scripts tests benchmarks policies
	$(VENV)/bin/ruff check --fix lambdas scripts tests benchmarks policies
	terraform fmt -recursive

LOAD_DURATION ?= 60
LOAD_CLIENTS ?= 32
load: venv ## Bounded load run against the running local stack (LOAD_DURATION=60 s, LOAD_CLIENTS=32; loopback only)
	$(PY) -m scripts.load --duration $(LOAD_DURATION) --clients $(LOAD_CLIENTS) $(LOAD_ARGS)

redrive: venv ## List the jobs DLQ's messages with their jobs (dry run); REDRIVE_ARGS=--apply moves them back
	$(PY) -m scripts.redrive $(REDRIVE_ARGS)

faults: package ## Run the fault table (local stack and DynamoDB Local) and print it
	$(PY) -m pytest tests/race/test_fault_table.py -p no:benchmark -q $(PYTEST_ARGS)
	@cat dist/fault-table.txt

bench: package ## The api handler against its peers (cold and warm), one table + dist/bench.json (BENCH_ARGS=...)
	$(PY) -m benchmarks $(BENCH_ARGS)

PROFILE ?=
cost: venv ## Monthly cost estimate of ENV (default dev) under a traffic profile: make cost ENV=prod [PROFILE=busy]
	$(PY) -m scripts.cost --env $(ENV) $(if $(PROFILE),--profile $(PROFILE))

PLAN_FILE ?= dist/$(ENV).tfplan
ARTIFACTS := dist/artifacts.tfvars.json

$(ARTIFACTS):
	@echo "error: $@ missing: run 'make package' (CI downloads the artifacts built once)"; exit 1

plan: venv $(ARTIFACTS) ## terraform plan for ENV=dev|staging|prod into PLAN_FILE (uses the built artifacts, never rebuilds)
	scripts/tf $(ENV) plan -var-file=environments/$(ENV).tfvars -var-file=$(ARTIFACTS) -out=$(PLAN_FILE)

apply: venv ## terraform apply of exactly the saved PLAN_FILE for ENV
	@test -f $(PLAN_FILE) || { echo "error: $(PLAN_FILE) missing: run 'make plan ENV=$(ENV)' first"; exit 1; }
	scripts/tf $(ENV) apply $(PLAN_FILE)

clean: ## Remove build output and local stack state
	rm -rf dist .local .pytest_cache
