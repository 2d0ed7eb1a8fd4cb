# ClusterXchange platform: `make run` starts everything, `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The web application's front-end packages (package.json, pinned by package-lock.json).
WEB_STAMP := node_modules/.installed

# Every command runs with .env's settings (cp .env.example .env); a variable set in the
# environment wins over .env: `AMQP_URI=amqp://... make run`.
ENV := bash scripts/with-env.sh

.PHONY: run test fuzz bench lint install services clean demo web-assets translations

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	@touch $(STAMP)

$(WEB_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || { echo "Node.js and npm are needed for the web assets (apt-get install -y nodejs npm)"; exit 1; }
	npm ci --no-audit --no-fund --ignore-scripts
	@touch $(WEB_STAMP)

web-assets: $(WEB_STAMP)

install: $(STAMP) $(WEB_STAMP)

# A local RabbitMQ that is installed but stopped is started; then schemas, reference data
# (and the demo set), then every process. Plain logs for reading at a terminal unless
# LOG_FORMAT says otherwise (processes default to JSON). Ctrl-C stops everything quietly.
run: $(STAMP) $(WEB_STAMP)
	@$(ENV) bash scripts/ensure-services.sh broker
	@$(ENV) $(BIN)/python -c "from cli.broker import require_broker; from common.config import build_config; require_broker(build_config()['AMQP_URI'])"
	@$(ENV) $(BIN)/cxc migrate
	@$(ENV) $(BIN)/cxc seed $(if $(DEMO),--demo,)
	@$(ENV) sh -c 'LOG_FORMAT=$${LOG_FORMAT:-plain} PATH=$(abspath $(BIN)):$$PATH \
	  exec honcho start --no-colour --env /dev/null -f Procfile'; code=$$?; \
	  case $$code in 0|130|143) exit 0 ;; *) exit $$code ;; esac

demo:
	$(MAKE) run DEMO=1

services:
	@$(ENV) bash scripts/ensure-services.sh

test: $(STAMP) $(WEB_STAMP) services
	$(BIN)/ruff check .
	$(ENV) $(BIN)/python -m pytest $(PYTEST_ARGS)

# The whole schemathesis run (every phase, more examples); `make test` runs a bounded pass.
fuzz: $(STAMP) services
	$(ENV) env FUZZ_MAX_EXAMPLES=$${FUZZ_MAX_EXAMPLES:-100} \
	FUZZ_PHASES=$${FUZZ_PHASES:-examples,coverage,fuzzing,stateful} \
	$(BIN)/python -m pytest -m fuzz -s $(PYTEST_ARGS)

# Every benchmark runs even when an earlier one misses a target; a summary line per benchmark
# at the end, and `make bench` fails if any missed.
BENCHMARKS := \
	"gateway|bench.gateway.run $(BENCH_ARGS)" \
	"events|bench.events.run $(BENCH_EVENTS_ARGS)" \
	"matching|bench.matching.run $(BENCH_MATCHING_ARGS)" \
	"payments_sepa|bench.payments_sepa $(BENCH_SEPA_ARGS)" \
	"payments_reservations|bench.payments_reservations $(BENCH_RESERVATIONS_ARGS)" \
	"agreements|bench.agreements.run $(BENCH_AGREEMENTS_ARGS)" \
	"notifications|bench.notifications.run $(BENCH_NOTIFICATIONS_ARGS)" \
	"webhooks|bench.webhooks $(BENCH_WEBHOOKS_ARGS)" \
	"web|bench.web.run $(BENCH_WEB_ARGS)"

bench: $(STAMP) $(WEB_STAMP) services
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	@summary=""; failed=0; \
	for entry in $(BENCHMARKS); do \
	  name=$${entry%%|*}; command=$${entry#*|}; \
	  echo "== $$name: python -m $$command"; \
	  if $(BIN)/python -m $$command; then verdict="ok"; \
	  else code=$$?; verdict="MISSED (exit $$code)"; failed=1; fi; \
	  summary="$$summary$$(printf '  %-24s %s' "$$name" "$$verdict")"$$'\n'; \
	done; \
	echo; echo "benchmark summary:"; printf '%s' "$$summary"; \
	exit $$failed

# The web application's messages: brings every catalogue (gateway/web/translations) up to date
# with the code and templates, then lists what is left to translate (and fails until it is done).
translations: $(STAMP)
	$(BIN)/python -m gateway.web.i18n update

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf var .pytest_cache node_modules
