# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
FLASK  := $(BIN)/flask --app portal
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
HOST   ?= 127.0.0.1
PORT   ?= 5000

.PHONY: install translations translations-update migrate demo run test lint bench soak clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

# Compiled catalogs (.mo) are build output, made from the .po sources here, never by hand.
translations: install
	$(BIN)/pybabel compile --use-fuzzy -d portal/translations --statistics

# Developers: after changing user-visible strings, refresh the .po files and translate what is new.
translations-update: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o portal/translations/messages.pot --no-location --sort-output .
	$(BIN)/pybabel update -i portal/translations/messages.pot -d portal/translations --no-fuzzy-matching --ignore-obsolete

migrate: install
	$(FLASK) db upgrade

demo: migrate
	$(FLASK) demo-data --if-empty

# The web server and, beside it, the jobs worker (expiries, outbox retries, pruning, ledger check);
# Ctrl-C stops both.
# A person reads this console: plain log lines (production and `flask` alone log JSON).
run: export LOG_FORMAT ?= text
run: translations demo
	@echo "Serving on http://$(HOST):$(PORT)/ with the jobs worker  (Ctrl-C stops both)"
	@$(FLASK) jobs worker --workers 1 & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	$(FLASK) run --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check portal tests bench config.py

# Debian's Chromium and CJK fonts for the browser tests: installed as root, else the command is printed.
.PHONY: system-deps wheel-check restore-drill
system-deps:
	bash tests/system-deps.sh

# SQLite first; then PostgreSQL when TEST_DATABASE_URL is set. In CI it must be set.
test: system-deps translations lint
	env -u TEST_DATABASE_URL $(BIN)/pytest
	@if [ -n "$$TEST_DATABASE_URL" ]; then \
		echo "== again on PostgreSQL: $$TEST_DATABASE_URL"; \
		$(BIN)/pytest; \
	elif [ -n "$$CI" ]; then \
		echo "CI needs TEST_DATABASE_URL: PostgreSQL tests must not be skipped" >&2; exit 1; \
	else \
		echo "TEST_DATABASE_URL is not set: PostgreSQL pass skipped (CI runs it)"; \
	fi

# `pip install .` works: the wheel, installed in a fresh venv, migrates and serves the sign-in page.
wheel-check: install
	PYTHON=$(BIN)/python bash deploy/check-wheel.sh

# Backup restore drill (deploy/restore_drill.py): demo data dumped with pg_dump -Fc, restored into a
# fresh database, ledger verify and every balance and row count compared; then shown to catch an
# altered row. Uses $$DRILL_SOURCE_URL and $$DRILL_TARGET_URL (empty databases) when set, else creates
# and drops two on the local PostgreSQL.
restore-drill: translations
	$(BIN)/python deploy/restore_drill.py --self-test

bench: install
	$(BIN)/python bench/ledger.py

# The crash test (bench/soak.py): gunicorn on PostgreSQL under concurrent clients, duplicates and
# random worker/connection kills, then the books checked; --self-test shows the checker catches
# injected faults. Rebuilds $$SOAK_DATABASE_URL (default: a local database named portal_soak).
SOAK_SECONDS ?= 60
soak: translations
	$(BIN)/python bench/soak.py --seconds $(SOAK_SECONDS) --self-test

clean:
	rm -rf $(VENV) instance/*.db*
