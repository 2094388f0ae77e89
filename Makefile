# Two commands on a fresh machine: `make run` (the demo dashboard) and `make test` (the suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | md5sum | cut -c1-12)
FLASK := FLASK_APP=wsgi $(BIN)/flask
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test test-sqlite test-postgres venv bench bench-uisp bench-billing bench-crm bench-qbo bench-banking vendor clean

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-dev.txt
	@rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP)

# The fake sources, the demo database and admin, then gunicorn (see scripts/run-demo.sh).
run: venv
	HOST=$(HOST) PORT=$(PORT) bash scripts/run-demo.sh

# The whole suite on SQLite, then again on PostgreSQL when TEST_DATABASE_URL is set.
test: venv
	@bash scripts/install-browser.sh
	$(MAKE) --no-print-directory test-sqlite
	@if [ -n "$$TEST_DATABASE_URL" ]; then $(MAKE) --no-print-directory test-postgres; \
	else echo "TEST_DATABASE_URL not set: PostgreSQL pass skipped"; fi

test-sqlite: venv
	env -u TEST_DATABASE_URL $(BIN)/pytest -q

test-postgres: venv
	$(BIN)/pytest -q

# One benchmark each; every one prints its ratios against baselines measured in the same run.
bench: venv
	$(BIN)/python bench/engine.py

bench-uisp: venv
	$(BIN)/python bench/uisp_refresh.py

bench-crm: venv
	$(BIN)/python bench/crm_push.py

bench-qbo: venv
	$(BIN)/python bench/qbo_all_companies.py

bench-banking: venv
	$(BIN)/python bench/bulk_reconcile.py

# dlt and pyarrow are the billing bench's peers, not the app's dependencies.
bench-billing: venv
	$(BIN)/pip install -q --disable-pip-version-check -r bench/requirements.txt
	$(BIN)/python bench/bill_stop.py

vendor:
	bash scripts/vendor.sh

clean:
	rm -rf $(VENV) .pytest_cache instance/*.db
