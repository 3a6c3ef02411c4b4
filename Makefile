# rosweb: `make run` serves the simulated robot, `make test` runs every check.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8080

.PHONY: run test lint typecheck pytest system-deps bench bench-video bench-idle bench-workers clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# the package and its runtime dependencies (re-run when pyproject.toml changes)
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

# plus what the tests need
$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/rosweb run --host $(HOST) --port $(PORT)

# the examples (examples/*/app.py), each your own Flask app with a robot inside
example-%: $(VENV)/.installed
	$(BIN)/flask --app examples/$*/app.py run --host $(HOST) --port $(PORT)

# Debian packages the tests need (real ROS 1: rospy, a master, the command-line tools);
# installed with apt-get when missing, as root.
APT_PACKAGES := python3-rospy python3-rosmaster python3-rostopic python3-rosservice \
                python3-rosparam python3-rosnode python3-geometry-msgs python3-sensor-msgs \
                python3-nav-msgs python3-std-srvs chromium mosquitto
system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	  else echo "missing Debian packages:$$missing (run make test as root, or apt-get install them)"; exit 1; fi; \
	fi

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy

# roslibjs for the third-party client tests (node and npm from the machine)
JS_CLIENTS := tests/clients/js
$(JS_CLIENTS)/node_modules/.package-lock.json: $(JS_CLIENTS)/package-lock.json
	cd $(JS_CLIENTS) && npm ci --no-audit --no-fund

pytest: $(VENV)/.installed-test $(JS_CLIENTS)/node_modules/.package-lock.json
	$(BIN)/python -m pytest

test: system-deps lint typecheck pytest

# one table: every benchmark, short, rosweb at BENCH_BEFORE (default: the merge-base with main)
# against this tree, in the same run (bench/README.md)
bench: $(VENV)/.installed-test system-deps
	$(BIN)/python bench/bench_all.py $(if $(BENCH_BEFORE),--before $(BENCH_BEFORE))

bench-video: $(VENV)/.installed-test
	$(BIN)/python bench/bench_video.py

bench-idle: $(VENV)/.installed-test system-deps
	$(BIN)/python bench/bench_idle.py

bench-workers: $(VENV)/.installed-test system-deps
	$(BIN)/python bench/bench_workers.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
