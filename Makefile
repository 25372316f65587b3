# landpulse: every set-up step lives here. `make demo` and `make test` work on a fresh Linux
# machine with Python >= 3.11 (they create .venv and install everything into it).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_OUT ?= demo-output
SAMPLE_ITEM := src/landpulse/sample_data/s2-l1c-18SVG-2016-01-12/item.json
DEMO_JOB := examples/demo-job.yaml
PYTEST_ARGS ?=

.PHONY: help env test demo bench bench-bfast-env bench-pipeline gpu-wheels gpu-check lint clean

help:
	@echo "make demo   - create .venv, ingest the bundled Sentinel-2 scene, run the demo job twice (products, STAC, report)"
	@echo "make test   - create .venv and run the test suite (CPU; GPU tests skip without a GPU)"
	@echo "make lint   - ruff over src, tests, scripts and benchmarks; mypy over src"
	@echo "make bench  - run the CPU benchmarks: NDVI, indices, change, water, window composites, BFAST, parcels, remote COG reads, parcels across tiles, whole commands vs hand loop and GDAL (many minutes)"
	@echo "make bench-pipeline - production run vs the I/O floor on a Sentinel-2-sized tile (minutes, ~2 GB disk)"
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

lint: env
	$(BIN)/ruff check src tests scripts benchmarks
	$(BIN)/mypy

demo: env
	rm -rf $(DEMO_OUT)
	$(BIN)/landpulse ingest $(DEMO_OUT)/scenes.zarr --item $(SAMPLE_ITEM)
	$(BIN)/landpulse info $(DEMO_OUT)/scenes.zarr
	$(BIN)/landpulse validate $(DEMO_JOB) --plan
	@echo "== first run: computes and commits every new unit"
	$(BIN)/landpulse run $(DEMO_JOB)
	@echo "== second run, as a nightly timer would start it with no new scene: nothing to do, nothing written"
	$(BIN)/landpulse run $(DEMO_JOB)
	$(BIN)/landpulse verify $(DEMO_OUT)/products
	@echo "== window products on the bundled real Bolzano series (12 dates, June 2022): composites, water, change, BFAST"
	$(BIN)/landpulse run examples/window-job.yaml
	$(BIN)/landpulse run examples/window-job.yaml
	$(BIN)/landpulse verify $(DEMO_OUT)/windows
	@echo "== change detection on the bundled real Landsat 7 / Landsat 8 pair (2001 -> 2013)"
	$(BIN)/python scripts/demo_change.py --out $(DEMO_OUT)/change
	@echo "Products (Zarr, COG, thumbnail, STAC item per unit; catalog.json): $(DEMO_OUT)/products"
	@echo "  NDVI, NDWI, water (MNDWI) and WOfS water maps with class areas in hectares"
	@echo "Product browser (map, filters, items, links; open it from file:// or any static web server): $(DEMO_OUT)/products/browse/index.html"
	@echo "Run report: $(DEMO_OUT)/reports/latest.html (and latest.json); the first run's report lists every product"
	@echo "Change products and quick-looks: $(DEMO_OUT)/change (summary.json)"

bench: $(VENV)/.installed-bench
	$(BIN)/python benchmarks/bench_ndvi.py
	$(BIN)/python benchmarks/bench_indices.py
	$(BIN)/python benchmarks/bench_change.py --markdown
	$(BIN)/python benchmarks/bench_water.py --markdown
	nice -n 10 $(BIN)/python benchmarks/bench_parcels.py --ee-parcels 10000 --ee-dates 2 --rs-parcels 200 --markdown
	nice -n 10 $(BIN)/python benchmarks/bench_parcel_tiles.py
	$(BIN)/python benchmarks/bench_remote.py --full --markdown
	$(BIN)/python benchmarks/bench_windows.py
	$(BIN)/python benchmarks/bench_bfast.py
	$(BIN)/python benchmarks/bench_whole.py --tile --ingest-tile

# The bfast package (0.7, PyPI sdist) for bench_bfast.py's comparison: it needs NumPy < 1.24, so it
# lives in a virtualenv of its own (its setup.py imports numpy, pandas and pyopencl: no build isolation)
bench-bfast-env: .venv-bfast/.installed
.venv-bfast/.installed:
	python3 -m venv .venv-bfast
	.venv-bfast/bin/pip install --quiet setuptools wheel pyopencl "numpy==1.23.5" "pandas<2.1" "scipy<1.12" scikit-learn matplotlib wget
	.venv-bfast/bin/pip install --quiet --no-build-isolation bfast==0.7
	.venv-bfast/bin/pip install --quiet --no-deps "numpy==1.23.5"
	touch $@

# GPU verification (issue 7). Here, with network: make gpu-wheels. On the GPU machine, through
# the device tool with carry [".whl"]: make gpu-check (or bash scripts/gpu_check.sh) -> $$OUT/report.md
gpu-wheels:
	bash scripts/gpu_wheels.sh

gpu-check:
	bash scripts/gpu_check.sh

bench-pipeline: $(VENV)/.installed-bench
	$(BIN)/python benchmarks/bench_pipeline.py

clean:
	rm -rf $(DEMO_OUT) bench-output .venv-bfast build dist *.egg-info .pytest_cache
