# The one entry point for people and CI. `make help` lists every target, and for those
# that act on an environment, ENV and its default.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PORT ?= 8080
VENV ?= .venv
PY := $(VENV)/bin/python
# Python >= 3.12 (the Lambda runtime's version) for the virtualenv. The deploy-side
# scripts (pre-flight, plan report, smoke, environments) use only the standard library
# and run on it directly: plan, apply, drift and smoke never install anything.
PYTHON ?= $(shell for p in python3.12 "$$(PYENV_VERSION=3.12.1 pyenv which python3.12 2>/dev/null)" python3; do \
	[ -n "$$p" ] && "$$p" -c 'import sys; assert sys.version_info >= (3, 12)' 2>/dev/null && { echo "$$p"; break; }; done)

# ENV: the environment a target acts on (a file environments/<ENV>.tfvars). Each line
# below sets the default of the targets it names; `make help` prints it from here.
preflight plan apply drift outputs api-key backend-config cost: ENV ?= dev
smoke redrive: ENV ?= local

# Terraform for one deployed environment: its backend, its data dir (scripts/tf.py).
TF = $(PYTHON) -m scripts.tf
PLAN_FILE ?= dist/$(ENV).tfplan
# How long plan/apply wait for the state lock (a PR plan or another run may hold it).
TF_LOCK_TIMEOUT ?= 20m
# Platforms .terraform.lock.hcl records (make providers-lock). With a provider mirror,
# only what the mirror holds can be recorded.
TF_PLATFORMS ?= $(if $(TF_PROVIDER_MIRROR),$(sort $(notdir $(wildcard $(TF_PROVIDER_MIRROR)/registry.terraform.io/hashicorp/aws/*/*))),linux_amd64 linux_arm64 darwin_amd64 darwin_arm64 windows_amd64)
TENANT ?= smoke
# pip's notice about a configured index location that does not exist (as scripts/tools-venv).
PIP_QUIET = 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)

.PHONY: help venv tools package local smoke test lint docs fmt bench cost preflight plan apply drift \
	outputs providers-lock backend-config api-key clean load redrive faults

help: ## List the targets (ENV=: the environment a target acts on, by default)
	@awk -F'## ' ' \
	  /^[a-z][a-z -]*: ENV \?= / { split($$0, a, ":"); d = a[2]; sub(/^ *ENV \?= */, "", d); \
	    n = split(a[1], ts, " "); for (i = 1; i <= n; i++) env[ts[i]] = d; next } \
	  /^[a-z][a-z-]*:.*## / { split($$1, t, ":"); names[++count] = t[1]; text[t[1]] = $$2 } \
	  END { for (i = 1; i <= count; i++) { n = names[i]; \
	    printf "  %-15s %-10s %s\n", n, (n in env) ? "ENV=" env[n] : "", text[n] } }' $(MAKEFILE_LIST)

$(VENV)/.installed: pyproject.toml requirements/dev.lock
	@test -n "$(PYTHON)" || { echo "error: Python >= 3.12 not found (set PYTHON=/path/to/python3.12)"; exit 1; }
	@# Progress goes to stderr: stdout belongs to the target that needed the venv
	@# (`make -s api-key KEY_ONLY=1 | gh secret set ...` must print the key alone).
	@echo "venv: installing the pinned dev dependencies into $(VENV) (about 2 min on a first run) ..." >&2
	@start=$$(date +%s); \
	$(PYTHON) -m venv $(VENV); \
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip $(PIP_QUIET); \
	$(PY) -m pip install --quiet --disable-pip-version-check -c requirements/dev.lock -e '.[dev]' $(PIP_QUIET); \
	echo "venv: $(VENV) ready in $$(( $$(date +%s) - start )) s" >&2
	@touch $@

venv: $(VENV)/.installed ## Create the virtualenv with pinned dependencies

tools: ## Create the security tools' virtualenv (.venv-tools: checkov, cfn-lint, zizmor, actionlint, parliament, cloudsplaining)
	scripts/tools-venv

package: venv ## Build deterministic Lambda zips into dist/ (prints size, sha256 and the time taken)
	$(PY) -m scripts.package

local: package ## Run the whole platform locally (moto + terraform apply + HTTP on 127.0.0.1:$PORT)
	$(PY) -m scripts.local_stack --port $(PORT)

smoke: ## Smoke-test ENV: local = the local stack; else the URL in its Terraform outputs (or BASE_URL) and SMOKE_API_KEY
	@if [ "$(ENV)" = local ]; then \
	  $(PYTHON) -m scripts.smoke $(if $(BASE_URL),--base-url $(BASE_URL)); \
	else \
	  $(TF) $(ENV) output -json | $(PYTHON) -m scripts.smoke --env $(ENV) --terraform-outputs - \
	    --applied-plan dist/$(ENV).plan.json $(if $(BASE_URL),--base-url $(BASE_URL)); \
	fi

test: package tools ## Run every test (unit, functional, contract, terraform, e2e, policies)
	$(PY) -m pytest -p no:benchmark -n 2 --dist loadgroup $(PYTEST_ARGS)

lint: package tools ## Static checks: ruff, mypy, terraform fmt, generated docs, Terraform conventions, and the security review (checkov, cfn-lint, zizmor, actionlint)
	$(VENV)/bin/ruff check lambdas scripts tests benchmarks policies
	$(VENV)/bin/ruff format --check lambdas scripts tests benchmarks policies
	$(VENV)/bin/mypy
	terraform fmt -check -recursive
	$(PY) -m scripts.generated_docs --check
	$(PY) -m scripts.lint_terraform
	scripts/lint-security

docs: venv ## Regenerate the generated parts of the docs (module README tables, docs/http-api.md)
	$(PY) -m scripts.generated_docs

fmt: venv ## Format Python and Terraform
	$(VENV)/bin/ruff format lambdas scripts tests benchmarks policies
	$(VENV)/bin/ruff check --fix lambdas scripts tests benchmarks policies
	terraform fmt -recursive

LOAD_DURATION ?= 60
LOAD_CLIENTS ?= 32
load: venv ## Bounded load run against the running local stack (LOAD_DURATION=60 s, LOAD_CLIENTS=32; loopback only)
	$(PY) -m scripts.load --duration $(LOAD_DURATION) --clients $(LOAD_CLIENTS) $(LOAD_ARGS)

redrive: venv ## List the jobs DLQ's messages with their jobs (dry run; ENV=local, or a deployed ENV's outputs); REDRIVE_ARGS=--apply moves them back
	@if [ "$(ENV)" = local ]; then \
	  $(PY) -m scripts.redrive $(REDRIVE_ARGS); \
	else \
	  $(TF) $(ENV) output -json | $(PY) -m scripts.redrive --terraform-outputs - $(REDRIVE_ARGS); \
	fi

faults: package ## Run the fault table (local stack and DynamoDB Local) and print it
	$(PY) -m pytest tests/race/test_fault_table.py -p no:benchmark -q $(PYTEST_ARGS)
	@cat dist/fault-table.txt

bench: package ## The api handler against its peers (cold and warm), one table + dist/bench.json (BENCH_ARGS=...)
	$(PY) -m benchmarks $(BENCH_ARGS)

PROFILE ?=
cost: venv ## Monthly cost estimate of ENV under a traffic profile: make cost ENV=prod [PROFILE=busy]
	$(PY) -m scripts.cost --env $(ENV) $(if $(PROFILE),--profile $(PROFILE))

preflight: ## Check ENV's tfvars, backend file and artifacts (no terraform, no AWS credentials)
	$(PYTHON) -m scripts.preflight $(ENV)

plan: preflight ## Pre-flight, then terraform plan of ENV into dist/ENV.tfplan + a redacted summary (dist/ENV.plan.md)
	@mkdir -p dist
	$(TF) $(ENV) plan -input=false -lock-timeout=$(TF_LOCK_TIMEOUT) -var-file=environments/$(ENV).tfvars -out=$(PLAN_FILE) $(PLAN_ARGS)
	$(TF) $(ENV) show -no-color $(PLAN_FILE) > dist/$(ENV).plan.txt
	$(TF) $(ENV) show -json $(PLAN_FILE) | $(PYTHON) -m scripts.plan_report write --env $(ENV) \
	  --text dist/$(ENV).plan.txt --json dist/$(ENV).plan.json --markdown dist/$(ENV).plan.md

apply: ## Apply exactly ENV's saved plan; REVIEWED_PLAN=<change set>: only if it is the reviewed one
	@test -f $(PLAN_FILE) || { echo "error: $(PLAN_FILE) missing: run 'make plan ENV=$(ENV)' first"; exit 1; }
	$(if $(REVIEWED_PLAN),$(PYTHON) -m scripts.plan_report verify --reviewed $(REVIEWED_PLAN) \
	  $(if $(REVIEWED_DIGEST),--digest $(REVIEWED_DIGEST)) --current dist/$(ENV).plan.json)
	$(TF) $(ENV) apply -input=false -lock-timeout=$(TF_LOCK_TIMEOUT) $(PLAN_FILE)

drift: preflight ## Plan ENV with -detailed-exitcode: fails (exit 2) naming what differs from the code
	@mkdir -p dist
	@rc=0; $(TF) $(ENV) plan -input=false -lock-timeout=$(TF_LOCK_TIMEOUT) -detailed-exitcode \
	  -var-file=environments/$(ENV).tfvars -out=dist/$(ENV).drift.tfplan || rc=$$?; \
	[ "$$rc" -ne 1 ] || exit 1; \
	$(TF) $(ENV) show -json dist/$(ENV).drift.tfplan | $(PYTHON) -m scripts.plan_report drift \
	  --env $(ENV) --exit-code "$$rc" --markdown dist/$(ENV).drift.md

outputs: ## Print ENV's Terraform outputs (URLs, table names)
	$(TF) $(ENV) output

providers-lock: ## Refresh .terraform.lock.hcl for TF_PLATFORMS (the registry; with TF_PROVIDER_MIRROR, that mirror's builds)
	@echo "providers-lock: recording the hashes of: $(TF_PLATFORMS)"
	TF_DATA_DIR=.terraform/providers-lock terraform get >/dev/null
	TF_DATA_DIR=.terraform/providers-lock terraform providers lock \
	  $(if $(TF_PROVIDER_MIRROR),-fs-mirror=$(TF_PROVIDER_MIRROR)) $(addprefix -platform=,$(TF_PLATFORMS))

backend-config: venv ## Write environments/ENV.backend.hcl from the bootstrap stack's outputs (STACK=...) and print the GitHub settings
	@test -n "$(STACK)" || { echo "error: STACK=<bootstrap stack name> is required"; exit 2; }
	$(PY) -m scripts.bootstrap_config $(ENV) --stack $(STACK) $(if $(REGION),--region $(REGION))

api-key: venv ## Mint an API key in ENV's api-keys table with your own AWS credentials (TENANT=smoke); printed once
	@table=$$($(TF) $(ENV) output -raw api_keys_table_name); \
	region=$$($(PYTHON) -m scripts.environments get $(ENV) region); \
	AWS_REGION=$$region $(PY) -m scripts.api_keys create --table "$$table" --tenant $(TENANT) \
	  --name smoke-$(ENV) $(if $(KEY_ONLY),--output key)

clean: ## Remove build output and local stack state
	rm -rf dist .local .pytest_cache
