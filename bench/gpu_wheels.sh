#!/usr/bin/env bash
# Download the Python 3.12 wheels bench/gpu.sh installs on a GPU machine that lacks them (no network there).
# Run it on a machine with access to the package index; it writes bench/gpu_wheels/ (ignored by git; carry it).
#   bench/gpu_wheels.sh [DIR]
# All six are pure-Python wheels (transformers: the project's pin, newer than the image's 5.17) (py3 / py312, any platform). What else they need is already on the lent H200
# image (pandas, pyarrow, xxhash, fsspec, huggingface_hub, accelerate, triton, ...; ../.library/device/KINDS.md).
set -eu
cd "$(dirname "$0")/.."
DIR=${1:-bench/gpu_wheels}
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] && PY=.venv/bin/python
mkdir -p "$DIR"
"$PY" -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp --abi cp312 \
  --abi none --platform any --platform manylinux2014_x86_64 -d "$DIR" \
  trl==1.16.0 datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19 liger-kernel==0.8.5 transformers==5.23.0
ls -la "$DIR"
