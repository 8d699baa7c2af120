# Linli. `make help` lists the targets.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
export LINLI_ENV ?= embedded

.DEFAULT_GOAL := help
.PHONY: help run test install install-dev serve lint typecheck format messages bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $@

install: $(VENV)/.installed ## install the product into .venv

install-dev: $(VENV)/.installed-dev ## install the product and the test tools into .venv

run: install ## install, migrate SQLite, load the demo community and serve it
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_demo
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py demo_logins --url http://$(HOST):$(PORT)/
	@$(MAKE) --no-print-directory serve DIALER_ARGS=--simulated

# The background worker (imports, matching, escalation) and the once-a-minute screening
# escalation loop run beside the web server and stop with it (so does the work orders'
# escalation sweep, every 30 s); so does the phone robot's dialer
# when DIALER_ARGS is given (`make run` dials through the simulated carrier: a demo never
# places a real call). The worker and the dialer are restarted 2 s after they exit, whatever
# the reason (docs/deployment.md gives the systemd units that do this in production).
serve: install ## serve the product and its background worker (no demo reload)
	@trap 'trap - INT TERM EXIT; kill 0' INT TERM EXIT; \
	supervise() { while :; do "$$@"; echo "$$3 exited ($$?), restarting in 2 s" >&2; sleep 2; done; }; \
	supervise $(PY) manage.py db_worker --no-startup-delay --verbosity 0 & \
	supervise $(PY) manage.py escalate_screening --every 60 --verbosity 0 & \
	supervise $(PY) manage.py escalate --every 30 --verbosity 0 & \
	[ -z "$(DIALER_ARGS)" ] || supervise $(PY) manage.py dialer $(DIALER_ARGS) --progress 600 & \
	$(VENV)/bin/gunicorn config.wsgi --bind $(HOST):$(PORT) --workers 2 --threads 4 --worker-connections 8 --backlog 64 --access-logfile - --timeout 120

# Core, and every app's services and selectors, whether a module or a package of modules.
TYPED := linli/core $(shell find linli -path '*/tests' -prune -o \( -name services.py -o -name selectors.py -o -type d -name services -o -type d -name selectors \) -print)

test: install-dev ## install and run every test (lint, layers, types, migrations, pytest)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	LINLI_ENV=test $(VENV)/bin/mypy $(TYPED)
	LINLI_ENV=test $(PY) manage.py makemigrations --check --dry-run
	LINLI_ENV=test $(PY) -m pytest

lint: install-dev ## ruff lint, import layers and types
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	LINLI_ENV=test $(VENV)/bin/mypy $(TYPED)

format: install-dev ## format the code
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

messages: install-dev ## extract and compile translations (needs gettext)
	$(PY) manage.py makemessages -l zh_Hans --no-obsolete --ignore=.venv --ignore=var --ignore=bench
	$(PY) manage.py makemessages -d djangojs -l zh_Hans --no-obsolete --ignore=.venv --ignore=var --ignore="*.min.js"
	$(PY) manage.py compilemessages --ignore=.venv

bench: install-dev ## measure the person list at 100,000 residents (needs PostgreSQL)
	$(PY) bench/people_list.py

clean: ## remove the virtualenv and local data (./var)
	rm -rf $(VENV) var
