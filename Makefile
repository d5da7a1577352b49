# The two set-up commands: `make run` and `make test`. Everything installs itself.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PORT   ?= 5000
SANDBOX_PORT ?= 12111
export FLASK_APP := wsgi:app

.PHONY: run run-distributed test bench lint install install-dev chromium redis axe sandbox migrate clean i18n i18n-extract i18n-update i18n-compile

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.runtime: $(VENV)/bin/python requirements.txt
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.runtime
install-dev: $(VENV)/.dev

# Debian's Chromium for the browser tests (never a downloaded browser build).
chromium:
	@test -x /usr/bin/chromium || { \
	  echo "installing Debian's chromium"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# axe-core for the accessibility sweep (tests/e2e/test_every_page.py), from the npm package pinned in
# tests/e2e/axe/package-lock.json; npm ci runs again only when the lock file changes.
AXE_DIR := tests/e2e/axe
axe: $(AXE_DIR)/node_modules/.package-lock.json

$(AXE_DIR)/node_modules/.package-lock.json: $(AXE_DIR)/package-lock.json
	cd $(AXE_DIR) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# A local Redis for the throttle figure's multi-host run (Debian's package; never kept on disk).
redis:
	@redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || { \
	  command -v redis-server >/dev/null || { echo "installing Debian's redis-server"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; }; \
	  redis-server --bind 127.0.0.1 --port 6379 --daemonize yes --save "" >/dev/null; }

migrate: install
	$(PY) -m flask db upgrade

# Translations (translations/<locale>/LC_MESSAGES/messages.po, Flask-Babel): extract the wrapped
# strings into messages.pot, merge them into each catalogue, compile the .mo files the portal reads
# (built by `make run` and `make test`, never committed).
PYBABEL := $(VENV)/bin/pybabel
I18N_PO := $(wildcard translations/*/LC_MESSAGES/messages.po)
I18N_MO := $(I18N_PO:.po=.mo)

i18n-extract: install
	$(PYBABEL) -q extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output \
	  --project "Practice Billing" -o translations/messages.pot .

i18n-update: i18n-extract
	$(PYBABEL) -q update -i translations/messages.pot -d translations --no-fuzzy-matching

i18n-compile: install
	$(PYBABEL) -q compile --statistics -d translations

i18n: $(I18N_MO)

translations/%/LC_MESSAGES/messages.mo: translations/%/LC_MESSAGES/messages.po $(VENV)/.runtime
	$(PYBABEL) -q compile -i $< -o $@

# The portal on http://127.0.0.1:$(PORT), with the Stripe sandbox (python -m stripe_sandbox) beside it
# when no key is set.
run: migrate i18n
	@set -e; \
	export PORTAL_URL=$${PORTAL_URL:-http://127.0.0.1:$(PORT)/}; \
	if [ -z "$$STRIPE_SECRET_KEY" ]; then \
	  export STRIPE_API_BASE=http://127.0.0.1:$(SANDBOX_PORT); \
	  $(PY) -m stripe_sandbox run --port $(SANDBOX_PORT) --webhook-url http://127.0.0.1:$(PORT)/webhooks/stripe & \
	  SANDBOX_PID=$$!; trap 'kill $$SANDBOX_PID 2>/dev/null' EXIT INT TERM; \
	  for i in $$(seq 50); do curl -fs http://127.0.0.1:$(SANDBOX_PORT)/_sandbox/health >/dev/null 2>&1 && break; sleep 0.2; done; \
	fi; \
	$(PY) -m flask billing bootstrap; \
	$(PY) -m flask seed-demo; \
	echo "Portal: http://127.0.0.1:$(PORT)  (demo logins in README.md)"; \
	if [ -z "$$MAIL_SERVER" ]; then echo "Emails (no MAIL_SERVER): http://127.0.0.1:$(PORT)/dev/inbox"; fi; \
	export PROMETHEUS_MULTIPROC_DIR=$${PROMETHEUS_MULTIPROC_DIR:-$(CURDIR)/instance/metrics}; \
	mkdir -p $$PROMETHEUS_MULTIPROC_DIR; rm -f $$PROMETHEUS_MULTIPROC_DIR/*.db; \
	$(PY) -m celery -A worker:celery worker --beat --pool solo --schedule instance/celerybeat-schedule \
	  --loglevel WARNING & \
	WORKER_PID=$$!; trap 'kill $$WORKER_PID $${SANDBOX_PID:-} 2>/dev/null' EXIT INT TERM; \
	$(VENV)/bin/gunicorn --config gunicorn.conf.py --bind 127.0.0.1:$(PORT) wsgi:app

# Several hosts on one machine: two portals (PORT_A, PORT_B), two Celery workers and the scheduler
# (Procfile, run by honcho), on the machine's PostgreSQL and Redis. Webhooks go to PORT_A.
PORT_A ?= 5001
PORT_B ?= 5002
DISTRIBUTED_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/portal_distributed
DISTRIBUTED_QUEUE_URL ?= redis://127.0.0.1:6379/1

run-distributed: install-dev redis i18n
	@set -e; \
	export DATABASE_URL=$${DATABASE_URL:-$(DISTRIBUTED_DATABASE_URL)} QUEUE_URL=$${QUEUE_URL:-$(DISTRIBUTED_QUEUE_URL)}; \
	export PORT_A=$(PORT_A) PORT_B=$(PORT_B) SANDBOX_PORT=$(SANDBOX_PORT) PORTAL_URL=http://127.0.0.1:$(PORT_A)/; \
	$(PY) -m portal.jobs.distributed "$$DATABASE_URL"; \
	$(PY) -m flask db upgrade; \
	PROCESSES="web_a web_b worker_1 worker_2 beat"; \
	if [ -z "$$STRIPE_SECRET_KEY" ]; then \
	  export STRIPE_API_BASE=http://127.0.0.1:$(SANDBOX_PORT); PROCESSES="sandbox $$PROCESSES"; \
	  $(PY) -m stripe_sandbox run --port $(SANDBOX_PORT) --database instance/sandbox-distributed.sqlite --webhook-url none & \
	  SEED_PID=$$!; for i in $$(seq 50); do curl -fs http://127.0.0.1:$(SANDBOX_PORT)/_sandbox/health >/dev/null 2>&1 && break; sleep 0.2; done; \
	  $(PY) -m flask billing bootstrap; $(PY) -m flask seed-demo; kill $$SEED_PID; wait $$SEED_PID 2>/dev/null || true; \
	else $(PY) -m flask billing bootstrap; $(PY) -m flask seed-demo; fi; \
	echo "Portal: http://127.0.0.1:$(PORT_A) and http://127.0.0.1:$(PORT_B); queue $$QUEUE_URL"; \
	export METRICS_DIR=$${METRICS_DIR:-$(CURDIR)/instance/metrics}; rm -f $$METRICS_DIR/a/*.db $$METRICS_DIR/b/*.db; \
	exec $(VENV)/bin/honcho start -f Procfile $$PROCESSES

test: install-dev chromium redis axe i18n
	$(PY) -m pytest $(PYTEST_ARGS)

# dj-stripe, the peer the webhook figures are compared with, in its own venv (its Django and stripe
# pins are not the portal's); made again only when bench/peers/requirements.txt changes.
PEER_VENV := bench/peers/.venv
$(PEER_VENV)/.installed: bench/peers/requirements.txt
	$(PYTHON) -m venv $(PEER_VENV)
	$(PEER_VENV)/bin/python -m pip install -q -r bench/peers/requirements.txt
	touch $@

# QUICK=1: every suite in small counts; QUEUE=1: the renewal storm also in queue mode (if the portal has one).
bench: install-dev $(PEER_VENV)/.installed
	$(PY) -m bench $(if $(QUICK),--quick,) $(if $(QUEUE),--queue,)

# ruff, then the import contracts in pyproject.toml ([tool.importlinter]; `make test` runs them too).
lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

clean:
	rm -rf $(VENV) instance .pytest_cache
