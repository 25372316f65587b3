#!/usr/bin/env bash
# The one command for the GPU machine (run through the device tool, carrying .whl/):
#   installs landpulse and its missing dependencies from the carried wheels, runs the GPU tests
#   and the GPU benchmarks, and writes a short report to $OUT (default gpu-check-output/).
# Prepare the wheels first, here: scripts/gpu_wheels.sh (or make gpu-wheels).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu-check-output}
mkdir -p "$OUT"
SITE=${SITE:-/tmp/landpulse-site}
PY=${PYTHON:-python3}
export PYTHONUNBUFFERED=1

if ! ls .whl/*.whl >/dev/null 2>&1; then
  echo "no wheels in .whl/: run scripts/gpu_wheels.sh here and carry .whl" | tee "$OUT/report.md"; exit 2
fi
"$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" .whl/*.whl || exit 2
# landpulse itself from this source tree (setuptools is on the machine; no network needed)
"$PY" -m pip install -q --no-index --no-deps --no-build-isolation --no-cache-dir --upgrade --target "$SITE" . || exit 2
export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
export NUMBA_CACHE_DIR=/tmp/numba-cache

{
  echo "# landpulse GPU check"
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "- card: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo 'nvidia-smi failed')"
  "$PY" - <<'PY'
import importlib
for m in ("landpulse", "cupy", "numpy", "numba", "dask", "distributed", "xarray", "zarr", "xrspatial"):
    try:
        mod = importlib.import_module(m)
        print(f"- {m}: {getattr(mod, '__version__', '?')}")
    except Exception as e:  # report, do not stop
        print(f"- {m}: not importable ({type(e).__name__}: {e})")
import landpulse
print(f"- device: {landpulse.device_info().as_dict()}")
PY
  echo
} > "$OUT/report.md" 2>&1

echo "## GPU tests" >> "$OUT/report.md"
"$PY" -m pytest -m gpu -q -p no:cacheprovider --junitxml="$OUT/gpu-tests.xml" tests/ > "$OUT/gpu-tests.log" 2>&1
rc_tests=$?
echo '```' >> "$OUT/report.md"; tail -n 25 "$OUT/gpu-tests.log" >> "$OUT/report.md"; echo '```' >> "$OUT/report.md"

echo "## GPU benchmarks" >> "$OUT/report.md"
"$PY" benchmarks/bench_gpu.py --json "$OUT/bench_gpu.json" > "$OUT/bench_gpu.log" 2>&1
rc_bench=$?
echo '```' >> "$OUT/report.md"; tail -n 60 "$OUT/bench_gpu.log" >> "$OUT/report.md"; echo '```' >> "$OUT/report.md"
echo "## Change detection and water on the GPU (24 dates x 2000^2; 4 dates x 10980^2)" >> "$OUT/report.md"
"$PY" benchmarks/bench_change.py --markdown > "$OUT/bench_change.log" 2>&1 || rc_bench=$?
"$PY" benchmarks/bench_water.py --dates 4 --variants read,index,wofs --markdown > "$OUT/bench_water.log" 2>&1 || rc_bench=$?
echo '```' >> "$OUT/report.md"; tail -n 30 "$OUT/bench_change.log" >> "$OUT/report.md"; tail -n 30 "$OUT/bench_water.log" >> "$OUT/report.md"; echo '```' >> "$OUT/report.md"
echo "exit: tests $rc_tests, benchmarks $rc_bench" >> "$OUT/report.md"
cat "$OUT/report.md"
exit $(( rc_tests != 0 || rc_bench != 0 ))
