# threadpress: two commands on a fresh clone (Python 3.11+ and make).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export PORT
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

# Exact versions: every install reads the hashed locks in requirements/ (written by
# `make lock`), never "whatever is newest". Change these two by hand, like the locks.
PIP_VERSION := 26.3
UV_VERSION := 0.13.9
# `make lock` runs uv from a throwaway venv outside the project.
LOCKTOOL ?= $(or $(TMPDIR),/tmp)/threadpress-locktool-uv-$(UV_VERSION)
LOCK_FLAGS := --universal --python-version 3.11 --generate-hashes --quiet \
	--custom-compile-command "make lock"

.PHONY: run test serve install install-test lint format check clean benchmark lock

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Each stamp depends on its lock, so a changed lock reinstalls. The project itself goes
# in last without dependencies: everything it needs came from the lock, hash-checked.
$(STAMP): requirements/run.txt pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet pip==$(PIP_VERSION)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/run.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

$(TEST_STAMP): requirements/test.txt pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet pip==$(PIP_VERSION)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/test.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@ $(STAMP)

install: $(STAMP)
install-test: $(TEST_STAMP)

run: $(STAMP)  ## install, migrate, load demo content and serve on http://127.0.0.1:$(PORT)
	DJANGO_DEBUG=1 $(BIN)/python manage.py migrate --no-input
	DJANGO_DEBUG=1 $(BIN)/python manage.py seed_demo
	@echo ""
	@echo "  threadpress is running:"
	@echo "    site:  http://127.0.0.1:$(PORT)/"
	@echo "    admin: http://127.0.0.1:$(PORT)/admin/  (user 'admin'; the password was printed above on first run)"
	@echo ""
	DJANGO_DEBUG=1 $(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

test: $(TEST_STAMP)  ## install with test extras and run the whole suite
	$(BIN)/python -m pytest $(PYTEST_ARGS)

serve: $(STAMP)  ## the production configuration locally (debug off): gunicorn + whitenoise
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py collectstatic --no-input --verbosity 0
	$(BIN)/gunicorn -c site_config/gunicorn.conf.py site_config.wsgi

lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(TEST_STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

benchmark: $(TEST_STAMP)
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

lock:  ## re-resolve the Python locks (hashes) and re-pin the npm test tools to their latest
	test -x $(LOCKTOOL)/bin/uv || { $(PYTHON) -m venv $(LOCKTOOL) && \
	  $(LOCKTOOL)/bin/python -m pip install --quiet pip==$(PIP_VERSION) uv==$(UV_VERSION); }
	$(LOCKTOOL)/bin/uv pip compile pyproject.toml $(LOCK_FLAGS) $(if $(filter 0,$(UPGRADE)),,--upgrade) \
	  --extra postgres --extra redis --extra test -o requirements/test.txt
	$(LOCKTOOL)/bin/uv pip compile pyproject.toml $(LOCK_FLAGS) \
	  --extra postgres --extra redis -c requirements/test.txt -o requirements/run.txt
	npm install --prefix .ci/tools --package-lock-only --save-exact --omit-lockfile-registry-resolved \
	  --no-audit --no-fund $(if $(filter 0,$(UPGRADE)),,vnu-jar@latest axe-core@latest)
	@echo ""
	@echo "  Locks updated: review 'git diff requirements/ .ci/tools/', run 'make test' and"
	@echo "  'bash .ci/install-browser-tools.sh', then commit them."

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache
