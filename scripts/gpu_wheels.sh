#!/usr/bin/env bash
# Prepare .whl/: the wheels the GPU machine lacks (its image has CuPy, NumPy, Numba, pandas,
# SciPy, pytest, hypothesis... but no Dask, distributed, Zarr, numcodecs, rioxarray, rasterio).
# Python 3.12, manylinux x86_64, no dependencies resolved (each one is named here).
# Run here (with network), then `make gpu-check` through the device tool carries .whl/.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=${DEST:-.whl}
PY=${PYTHON:-python3}
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
rm -rf "$DEST" && mkdir -p "$DEST"
# Pinned so the carried set stays under the device tool's 64 MiB (rasterio 1.4.4's wheel is 36 MB,
# 1.4.3's is 22 MB) and is reproducible.
WHEELS=(
  dask==2026.8.0 distributed==2026.8.0 zarr==3.1.6 numcodecs==0.16.6 donfig==0.8.1.post1
  google-crc32c==1.9.0 crc32c==2.9.post0 partd==1.4.2 locket==1.0.0 tblib==3.2.2 zict==3.0.0
  tornado==6.6.1 xarray==2026.9.0 rioxarray==0.19.0 rasterio==1.4.3 pyproj==3.7.1 affine==3.0.1
  cligj==0.7.2 click-plugins==1.1.1.2 pystac==1.15.2 pystac-core==1.15.2
  xarray-spatial==0.10.20
)
for w in "${WHEELS[@]}"; do
  "$PY" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d "$DEST" "$w"
done
total=$(du -sm "$DEST" | cut -f1)
tree=$(git ls-files -z | xargs -0 du -cm 2>/dev/null | tail -1 | cut -f1)
echo "wheels: ${total} MB in $DEST; tracked tree: ${tree} MB (the device tool carries at most 64 MiB in all)"
