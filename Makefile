# landpulse: every set-up step lives here. `make demo` and `make test` work on a fresh Linux
# machine with Python >= 3.11 (they create .venv and install everything into it).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_OUT ?= demo-output
SAMPLE_ITEM := src/landpulse/sample_data/s2-l1c-18SVG-2016-01-12/item.json
PYTEST_ARGS ?=

.PHONY: help env test demo bench gpu-wheels gpu-check lint clean

help:
	@echo "make demo   - create .venv, ingest the bundled Sentinel-2 scene, compute NDVI, write products + quick-looks + report"
	@echo "make test   - create .venv and run the test suite (CPU; GPU tests skip without a GPU)"
	@echo "make bench  - run the CPU benchmarks (full Sentinel-2 tile; minutes)"
	@echo "make gpu-wheels / gpu-check - prepare and run the GPU verification (see README)"

$(VENV)/.installed-dev: pyproject.toml setup.py
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "landpulse needs Python >= 3.11")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

$(VENV)/.installed-bench: $(VENV)/.installed-dev
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $@

env: $(VENV)/.installed-dev

test: env
	$(BIN)/python -m pytest $(PYTEST_ARGS)

demo: env
	rm -rf $(DEMO_OUT)
	$(BIN)/landpulse ingest $(DEMO_OUT)/scenes.zarr --item $(SAMPLE_ITEM)
	$(BIN)/landpulse info $(DEMO_OUT)/scenes.zarr
	$(BIN)/landpulse run $(DEMO_OUT)/scenes.zarr --out $(DEMO_OUT)/products
	@echo "Products (Zarr + STAC item), quick-looks (PNG) and the run report (run-report.json) are in $(DEMO_OUT)/products"

bench: $(VENV)/.installed-bench
	$(BIN)/python benchmarks/bench_ndvi.py
	$(BIN)/python benchmarks/bench_indices.py

# GPU verification (issue 7). Here, with network: make gpu-wheels. On the GPU machine, through
# the device tool with carry [".whl"]: make gpu-check (or bash scripts/gpu_check.sh) -> $$OUT/report.md
gpu-wheels:
	bash scripts/gpu_wheels.sh

gpu-check:
	bash scripts/gpu_check.sh

clean:
	rm -rf $(DEMO_OUT) bench-output build dist *.egg-info .pytest_cache
