# gridsvc: `make run` sets up a fresh machine and serves; `make test` runs the suite on SpatiaLite and PostGIS.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app gridsvc
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run serve dev setup system-deps venv js translations db seed test e2e reliability bench clean

run: setup db seed serve

setup: system-deps venv js translations

system-deps:
	@bash scripts/system-deps.sh run

$(BIN)/.installed: requirements.txt requirements-dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	@touch $@

venv: $(BIN)/.installed

# The browser's npm packages (package-lock.json), copied into gridsvc/static/npm; the test runner only for tests.
js:
	@bash scripts/js-deps.sh run

translations: venv
	@$(BIN)/pybabel compile -q -d gridsvc/translations 2>/dev/null || $(BIN)/pybabel compile -d gridsvc/translations

db: venv
	$(FLASK) db upgrade

# The report's dataset and the demo accounts (a new random password, printed; GRIDSVC_DEMO_PASSWORD chooses it).
seed: venv
	$(FLASK) seed --demo

# The production server (waitress, one process per core; see gridsvc/server.py and the README).
serve: venv
	@echo "gridsvc serving on http://$(HOST):$(PORT)/  (map: /map, API: /api/v1/completion?period=2020)"
	@echo "sign in at http://$(HOST):$(PORT)/login as admin, manager, viewer, station1, worker1, volunteer1 or station2 with the demo password the first seed printed (flask --app gridsvc users reset-password NAME sets a new one)"
	$(BIN)/python -m gridsvc.server --host $(HOST) --port $(PORT)

# Flask's development server with the reloader: for development only, never for a deployment.
dev: venv
	$(FLASK) run --debug --host $(HOST) --port $(PORT)

# Test targets (budget on a 2-core machine: make test <= 15 min; all three in .ci/run <= 60 min).
# PostGIS must be reachable where CI=true or GRIDSVC_REQUIRE_POSTGIS=1 (fail, never skip).
POSTGIS_CHECK = bash scripts/postgis-test-db.sh || { if [ "$$CI" = "true" ] || [ "$$GRIDSVC_REQUIRE_POSTGIS" = "1" ]; then exit 1; fi; echo "WARNING: PostGIS unavailable; its tests will be skipped"; }
PYTEST := $(BIN)/python -m pytest -p no:cacheprovider

# The layer contracts (docs/ARCHITECTURE.md), the JS unit tests (mocha from npm, tests/js), then
# unit and API tests on both databases, the short reliability variants and one browser smoke test.
test: venv translations
	@bash scripts/system-deps.sh test
	@$(POSTGIS_CHECK)
	@bash scripts/js-deps.sh test
	$(BIN)/lint-imports --no-cache
	node_modules/.bin/mocha
	$(PYTEST) -m "not browser or smoke" $(PYTEST_ARGS)

# The browser journeys (Playwright driving Debian's Chromium, network cut off).
e2e: venv translations
	@bash scripts/system-deps.sh test
	@$(POSTGIS_CHECK)
	@bash scripts/js-deps.sh test
	GRIDSVC_REQUIRE_BROWSER=1 $(PYTEST) -m browser $(PYTEST_ARGS)

# Long reliability run: more fuzzing, 50 kills, more concurrency, 60 s slow clients; figures at the end;
# then docs/DEPLOY.md's nginx + TLS set-up tried for real (scripts/https-smoke.sh).
reliability: venv translations
	@bash scripts/system-deps.sh test
	@$(POSTGIS_CHECK)
	@bash scripts/js-deps.sh test
	GRIDSVC_RELIABILITY=long $(PYTEST) tests/reliability $(PYTEST_ARGS)
	PYTHON=$(BIN)/python bash scripts/https-smoke.sh

bench: venv
	@bash scripts/system-deps.sh test
	@bash scripts/postgis-test-db.sh || echo "WARNING: PostGIS unavailable; its benchmarks will be skipped"
	$(BIN)/python -m pip install -q -r requirements-bench.txt
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf instance/gridsvc.sqlite* .pytest_cache
