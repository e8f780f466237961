#!/usr/bin/env bash
# One command for an NVIDIA box (offline is fine): build fastdet for this GPU, run the GPU
# tests, run the GPU benchmark. Logs and results go to OUTDIR; exits non-zero if a step failed.
#
#   bench/gpu_check.sh OUTDIR
#
# Needs python3 with torch, torchvision, cupy, numpy, pytest, cmake, ninja, pybind11 and
# scikit-build-core ($PYTHON overrides the interpreter; $FASTDET_CUDA_ARCHS the CUDA
# architectures, default: native, the GPU of this box). Budget: under 5 minutes.
set -uo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 OUTDIR" >&2
  exit 2
fi
mkdir -p "$1"
OUT=$(cd "$1" && pwd)
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
status=0
start=$(date +%s)

step() { echo; echo "== $1 ($(( $(date +%s) - start ))s)"; }

step "environment"
{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true
  "$PY" -c 'import sys; print(sys.version)'
  "$PY" -c 'import torch, torchvision, cupy; print("torch", torch.__version__, "torchvision", torchvision.__version__, "cupy", cupy.__version__)' 2>&1 || true
  git rev-parse HEAD 2>/dev/null || true
} 2>&1 | tee "$OUT/env.log"

ARCHS=${FASTDET_CUDA_ARCHS:-native}
step "build (CUDA architectures: $ARCHS)"
if ! CMAKE_ARGS="-DCMAKE_CUDA_ARCHITECTURES=$ARCHS ${CMAKE_ARGS:-}" timeout 240 \
    "$PY" -m pip install --no-build-isolation --no-deps --no-index -v . >"$OUT/build.log" 2>&1; then
  tail -40 "$OUT/build.log"
  echo "build failed; see $OUT/build.log"
  exit 1
fi
grep -E "fastdet: CUDA core|CMAKE_CUDA_ARCHITECTURES|Successfully installed" "$OUT/build.log" || true
# Run from outside the source tree so the installed package is the one imported.
(cd "$OUT" && "$PY" -c 'import fastdet._core as c; print("built_with_cuda", c.built_with_cuda, "cuda_available", c.cuda_available(), c.cuda_device_name(0) if c.cuda_available() else "")') 2>&1 | tee -a "$OUT/env.log"

if ! (cd "$OUT" && "$PY" -c 'import fastdet._core as c, sys; sys.exit(0 if c.cuda_available() else 1)'); then
  echo "no usable GPU seen by the CUDA build: the GPU tests would all skip"
  status=1
fi

step "GPU tests"
timeout 180 "$PY" -m pytest -m gpu tests/test_cuda_kernels.py -p no:cacheprovider -q -rs \
    --junitxml="$OUT/pytest-gpu.xml" 2>&1 | tee "$OUT/pytest-gpu.log"
tests_rc=${PIPESTATUS[0]}
[ "$tests_rc" -eq 0 ] || status=1

step "GPU benchmark"
timeout 150 "$PY" bench/gpu_bench.py --out "$OUT/gpu_bench.json" --iters 200 2>&1 | tee "$OUT/gpu_bench.log"
bench_rc=${PIPESTATUS[0]}
[ "$bench_rc" -eq 0 ] || status=1

step "done"
echo "tests rc=$tests_rc  bench rc=$bench_rc  total $(( $(date +%s) - start ))s  results in $OUT"
tail -n 12 "$OUT/gpu_bench.log"
exit $status
