# zendesk-jira-linksync: `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV     ?= .venv
SAM_VENV ?= .venv-sam
SCAN_VENV ?= .venv-scan
PLOT_VENV ?= .venv-plot
# Python 3.12 is the Lambda runtime. Use python3.12 from PATH when it really is 3.12, else ask pyenv
# (its python3.12 shim does not resolve unless 3.12 is selected, so ask for the prefix instead).
PY312 ?= $(shell for c in "$$(command -v python3.12)" \
    "$$(pyenv prefix $$(pyenv versions --bare 2>/dev/null | grep -E '^3\.12(\.[0-9]+)?$$' | tail -n1) 2>/dev/null)/bin/python3.12"; do \
    [ -x "$$c" ] && "$$c" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' 2>/dev/null && { echo "$$c"; break; }; done)
PY       := $(VENV)/bin/python
SAM      := $(SAM_VENV)/bin/sam
# sam build looks for python3.12 on PATH.
SAM_PATH := $(dir $(PY312)):$(PATH)
PYTEST_ARGS ?=
# pip says nothing but errors; the venv rules print one line per step instead.
PIP_QUIET := --quiet --disable-pip-version-check --progress-bar off

.PHONY: help install demo serve send invoke reconcile backfill test soak bench lint typecheck validate scan build check deploy publish secret clean print-python

help: ## this list
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: tools/requirements/dev.txt layers/linksync/requirements.txt
	@[ -n "$(PY312)" ] || { echo "Python 3.12 not found (tried python3.12 and pyenv)"; exit 1; }
	@echo "creating $(VENV) with Python 3.12 ($(PY312)) ..."
	@$(PY312) -m venv $(VENV)
	@echo "installing the pinned dependencies (under a minute on a first run) ..."
	@$(PY) -m pip install $(PIP_QUIET) --upgrade pip
	@$(PY) -m pip install $(PIP_QUIET) -r tools/requirements/dev.txt
	@# The layer's package and the repo's tooling (local/, tools/) importable from the venv, as in Lambda.
	@printf '%s\n%s\n' "$(CURDIR)/layers/linksync" "$(CURDIR)" > "$$($(PY) -c 'import sysconfig; print(sysconfig.get_path("purelib"))')/linksync-dev.pth"
	@# The operator's CLI as a console script: .venv/bin/linksync
	@$(PY) -m pip install $(PIP_QUIET) --no-deps --editable . > $(VENV)/editable.log 2>&1 || { cat $(VENV)/editable.log; exit 1; }
	@touch $@
	@echo "done: $(VENV) is ready"

# Tools that pin their own dependencies tightly get a virtualenv each: $(1) the folder, $(2) the requirements.
define tool-venv
$(1)/.installed: $(2)
	@[ -n "$$(PY312)" ] || { echo "Python 3.12 not found (tried python3.12 and pyenv)"; exit 1; }
	@echo "creating $(1) with Python 3.12 ($$(PY312)) ..."
	@$$(PY312) -m venv $(1)
	@echo "installing the pinned dependencies of $(2) ..."
	@$(1)/bin/python -m pip install $$(PIP_QUIET) --upgrade pip
	@$(1)/bin/python -m pip install $$(PIP_QUIET) -r $(2)
	@touch $$@
	@echo "done: $(1) is ready"
endef
$(eval $(call tool-venv,$(SAM_VENV),tools/requirements/sam.txt))
$(eval $(call tool-venv,$(SCAN_VENV),tools/requirements/scan.txt))
$(eval $(call tool-venv,$(PLOT_VENV),tools/requirements/plot.txt))


install: $(VENV)/.installed $(SAM_VENV)/.installed ## create the dev and SAM CLI virtualenvs from nothing

# `make serve` ports on 127.0.0.1: the gateway (also where `make send` posts), moto, the sandbox.
PORT         ?= 3000
MOTO_PORT    ?= 5000
SANDBOX_PORT ?= 8081
EVENT ?= events/jira_issue_created.json
FUNCTION ?= JiraWebhookFunction
REPLAY ?=

demo: $(VENV)/.installed ## run the whole system locally on the embedded default (moto + sandbox), then stop
	$(PY) -m local.demo

serve: $(VENV)/.installed ## keep the local stack running: gateway on 127.0.0.1:PORT (3000), MOTO_PORT (5000), SANDBOX_PORT (8081)
	$(PY) -m local.serve --port $(PORT) --moto-port $(MOTO_PORT) --sandbox-port $(SANDBOX_PORT)

send: $(VENV)/.installed ## sign EVENT=events/<file> afresh (new delivery id; REPLAY=1 keeps it) and POST it to `make serve`
	$(PY) -m local.send $(EVENT) --url http://127.0.0.1:$(PORT) $(if $(REPLAY),--replay)

invoke: $(VENV)/.installed ## run FUNCTION=<LogicalId> once on EVENT=events/<file> (no Docker needed)
	$(PY) -m local.invoke $(FUNCTION) $(EVENT)

test: $(VENV)/.installed ## run the test suite (unit + integration; moto and the sandbox on 127.0.0.1)
	$(VENV)/bin/pytest $(PYTEST_ARGS)

STACK ?=
MODE  ?= incremental
APPLY ?=
LINKSYNC = $(VENV)/bin/linksync $(if $(STACK),--stack $(STACK),--local)
reconcile: $(VENV)/.installed ## reconcile job (MODE=full|incremental, APPLY=1 to repair; STACK=name for a deployed stack)
	$(LINKSYNC) reconcile --mode $(MODE) $(if $(APPLY),--apply)

backfill: $(VENV)/.installed ## adopt an account's existing data: a full reconcile job, applied (STACK=name or the local stack)
	$(LINKSYNC) reconcile --mode full --apply

BENCH_ARGS ?=
bench: $(VENV)/.installed $(PLOT_VENV)/.installed ## ratios against same-run baselines -> .aws-sam/bench-results.json, docs/bench/*.png (BENCH_ARGS=--quick|--full)
	$(PY) -m tools.bench --plot-python $(PLOT_VENV)/bin/python $(BENCH_ARGS)

SOAK_ARGS ?= --events 1000 --fault-rate 0.3
soak: $(VENV)/.installed ## seeded random workload under faults: lost / duplicate / orphan links (SOAK_ARGS=...)
	$(PY) -m tools.soak $(SOAK_ARGS)

lint: $(VENV)/.installed ## ruff
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.installed ## mypy, strict, on all Python in the repo
	$(VENV)/bin/mypy
	@for app in functions/*/app.py; do $(VENV)/bin/mypy "$$app" || exit 1; done

validate: $(VENV)/.installed $(SAM_VENV)/.installed ## cfn-lint and sam validate --lint
	$(VENV)/bin/cfn-lint template.yaml
	PATH="$(SAM_PATH)" $(SAM) validate --lint --template template.yaml --region us-east-1

build: $(VENV)/.installed $(SAM_VENV)/.installed ## sam build (no Docker), then check the artifacts really landed
	PATH="$(SAM_PATH)" $(SAM) build --template template.yaml
	@$(PY) -m tools.check_build

scan: $(SCAN_VENV)/.installed ## bandit on the code, checkov on template.yaml (fails on any finding)
	$(SCAN_VENV)/bin/bandit -r layers/linksync/linksync functions -q
	@# Local tooling: asserts, dummy credentials, seeded random and subprocess imports are expected there.
	$(SCAN_VENV)/bin/bandit -r local tools -q -s B101,B105,B106,B311,B404
	$(SCAN_VENV)/bin/checkov --config-file tools/checkov.yaml -f template.yaml

check: lint typecheck validate scan build test ## everything CI and a reviewer care about

deploy: build ## sam deploy to your AWS account (--guided the first time, which saves samconfig.toml)
	@if grep -q '^parameter_overrides' samconfig.toml; then $(SAM) deploy; else $(SAM) deploy --guided; fi

BUCKET ?=
REGION ?= $(or $(AWS_REGION),$(AWS_DEFAULT_REGION),us-east-1)
publish: ## sam build, package to BUCKET=<s3 bucket>, publish to the Serverless Application Repository (REGION=...)
	@[ -n "$(BUCKET)" ] || { echo "make publish needs BUCKET=<S3 bucket in $(REGION) that serverlessrepo.amazonaws.com may read>"; exit 1; }
	@$(MAKE) --no-print-directory build
	PATH="$(SAM_PATH)" $(SAM) package --template-file .aws-sam/build/template.yaml --output-template-file .aws-sam/packaged.yaml --s3-bucket $(BUCKET) --region $(REGION)
	PATH="$(SAM_PATH)" $(SAM) publish --template .aws-sam/packaged.yaml --region $(REGION)

secret: $(VENV)/.installed ## create or update the Secrets Manager secret from the environment or prompts
	$(PY) -m tools.secret

clean: ## remove build output and caches
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache

print-python: ## the Python 3.12 interpreter the venvs are built from
	@echo "$(PY312)"
