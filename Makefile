# gridsvc: `make run` sets up a fresh machine and serves; `make test` runs the suite on SpatiaLite and PostGIS.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app gridsvc
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run serve setup system-deps venv translations db seed test test-fast reliability bench clean

run: setup db seed serve

setup: system-deps venv translations

system-deps:
	@bash scripts/system-deps.sh run

$(BIN)/.installed: requirements.txt requirements-dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	@touch $@

venv: $(BIN)/.installed

translations: venv
	@$(BIN)/pybabel compile -q -d gridsvc/translations 2>/dev/null || $(BIN)/pybabel compile -d gridsvc/translations

db: venv
	$(FLASK) db upgrade

seed: venv
	$(FLASK) seed

serve: venv
	@echo "gridsvc serving on http://$(HOST):$(PORT)/  (map: /map, API: /api/v1/completion?period=2020)"
	@echo "sign in at http://$(HOST):$(PORT)/login as admin, manager, viewer, station1, worker1, volunteer1 or station2; password: $${GRIDSVC_DEMO_PASSWORD:-gridsvc-demo-2020} (demo accounts from the seed; set GRIDSVC_DEMO_PASSWORD before seeding to choose it)"
	$(FLASK) run --host $(HOST) --port $(PORT)

test: venv translations
	@bash scripts/system-deps.sh test
	@bash scripts/postgis-test-db.sh || { if [ "$$CI" = "true" ] || [ "$$GRIDSVC_REQUIRE_POSTGIS" = "1" ]; then exit 1; fi; echo "WARNING: PostGIS unavailable; its tests will be skipped"; }
	$(BIN)/python -m pytest -p no:cacheprovider $(PYTEST_ARGS)

# Long reliability run (issue 9): more fuzzing, 50 kills, more concurrency; figures at the end.
reliability: venv translations
	@bash scripts/system-deps.sh test
	@bash scripts/postgis-test-db.sh || { if [ "$$CI" = "true" ] || [ "$$GRIDSVC_REQUIRE_POSTGIS" = "1" ]; then exit 1; fi; echo "WARNING: PostGIS unavailable; its tests will be skipped"; }
	GRIDSVC_RELIABILITY=long $(BIN)/python -m pytest -p no:cacheprovider tests/reliability $(PYTEST_ARGS)

bench: venv
	@bash scripts/system-deps.sh test
	@bash scripts/postgis-test-db.sh || echo "WARNING: PostGIS unavailable; its benchmarks will be skipped"
	$(BIN)/python -m pip install -q -r requirements-bench.txt
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf instance/gridsvc.sqlite* .pytest_cache
