# threadpress: two commands on a fresh clone (Python 3.11+ and make).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: run test serve install install-test lint format check clean benchmark

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[postgres,redis]'
	touch $@

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[postgres,redis,test]'
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

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache
