#!/usr/bin/env bash
# One unattended GPU comparison at V = 128,256 (bench/gpu.py; what it measures and how to prepare the machine:
# bench/GPU.md). At most ~8 minutes: gpu.py stops starting contenders after --budget-s (default 420 s) and this
# script kills it at 480 s whatever happens; results are written after every contender.
#
#   bench/gpu.sh --out OUTDIR [--wheels DIR] [gpu.py options, e.g. --device cpu --quick]
#
# --wheels DIR (default: bench/gpu_wheels when it exists): Python 3.12 wheels of what the GPU machine lacks
# (trl, datasets, dill, multiprocess, liger-kernel, and the project's transformers pin; bench/gpu_wheels.sh
# downloads them). A wheel whose exact version is already installed is skipped. They are installed with
# --no-deps into a private folder under the output folder's parent temp dir, put first on PYTHONPATH; nothing
# system-wide changes. A wheel that fails to install is reported; gpu.py then skips what needs it.
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] && [ -z "${PYTHON:-}" ] && PY=.venv/bin/python
WHEELS=""
[ -d bench/gpu_wheels ] && WHEELS=bench/gpu_wheels
ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --wheels) WHEELS="$2"; shift 2 ;;
    --wheels=*) WHEELS="${1#--wheels=}"; shift ;;
    *) ARGS+=("$1"); shift ;;
  esac
done
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false \
  TRL_EXPERIMENTAL_SILENCE=1 PYTHONUNBUFFERED=1
if [ -n "$WHEELS" ] && ls "$WHEELS"/*.whl >/dev/null 2>&1; then
  SITE=$(mktemp -d "${TMPDIR:-/tmp}/prefopt-gpu-site.XXXXXX")
  for w in "$WHEELS"/*.whl; do
    name=$(basename "$w" | cut -d- -f1)  # trl, datasets, ..., transformers: the distribution name
    version=$(basename "$w" | cut -d- -f2)
    have=$("$PY" -c "import importlib.metadata as m; print(m.version('$name'.replace('_', '-')))" 2>/dev/null)
    [ "$have" = "$version" ] && { echo "wheel $(basename "$w"): $name $have already installed"; continue; }
    # one at a time, no dependencies, never from an index: what is already installed stays as it is
    "$PY" -m pip install -q --no-index --no-deps --target "$SITE" "$w" 2>&1 | tail -2 || echo "wheel $w: install failed"
  done
  export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
  echo "wheels from $WHEELS installed into $SITE (first on PYTHONPATH)"
fi
"$PY" -c 'import sys; print("python", sys.version.split()[0], sys.executable)'
exec timeout --signal=TERM --kill-after=10 480 "$PY" bench/gpu.py "${ARGS[@]}"
