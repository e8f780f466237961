#!/usr/bin/env bash
# The GPU check: one offline command for an NVIDIA box. Builds fastdet for this GPU, then runs
# staged checks, each writing its log (and JSON) to OUTDIR as it finishes, and prints a short
# table last. Exits non-zero if any stage failed, including on a GPU test that skipped
# unexpectedly.
#
#   bench/gpu_check.sh OUTDIR [--only STAGE[,STAGE...]]
#
# Stages, in order (time limits in seconds; the whole check stays under 5 minutes):
#   preflight  GPU, nvcc, Python.h, pytest >= 8, torch / torchvision / cupy import      (30)
#   build      pip install of this checkout with the CUDA core; fails unless it is ON  (150)
#   smoke      -x: one letterbox, one decode on each sort path, one graph capture       (40)
#   tests      every GPU test; unexpected skips fail the stage                          (90)
#   bench      bench/gpu_bench.py: kernel times vs references, JSON after each section  (90)
#   sanitize   compute-sanitizer memcheck + racecheck on a small script ("not supported" skips) (60)
# --only reruns chosen stages against the build already installed (e.g. --only tests,bench).
#
# Needs python3 with torch, torchvision, cupy, numpy, pytest, pytest-timeout, cmake, ninja,
# pybind11 and scikit-build-core. $PYTHON overrides the interpreter, $FASTDET_CUDA_ARCHS the CUDA
# architectures (default: native), $FASTDET_ASSETS a folder with images/ and models/ (bus.jpg,
# yolov8n_w8.onnx) when ../shared/assets is not beside the checkout, $FASTDET_WHEELS a folder of
# wheels the box lacks (onnx2pytorch for the PyTorch backend), installed into a scratch folder on
# PYTHONPATH, offline.
set -uo pipefail

usage() { echo "usage: $0 OUTDIR [--only STAGE[,STAGE...]]" >&2; exit 2; }
[ $# -ge 1 ] || usage
mkdir -p "$1" || usage
OUT=$(cd "$1" && pwd)
shift
ONLY=""
while [ $# -gt 0 ]; do
  case "$1" in
    --only) [ $# -ge 2 ] || usage; ONLY=",$2,"; shift 2 ;;
    *) usage ;;
  esac
done
cd "$(dirname "$0")/.."
REPO=$(pwd)
# A system Python marked externally managed (PEP 668) refuses pip installs; this box is a scratch
# machine whose Python is ours to install into.
export PIP_BREAK_SYSTEM_PACKAGES=1
PY=${PYTHON:-python3}
export PYTHONUNBUFFERED=1
start=$(date +%s)
declare -A RESULT
ORDER=()

wanted() { [ -z "$ONLY" ] || [[ "$ONLY" == *",$1,"* ]]; }
note() { echo; echo "== $1 ($(( $(date +%s) - start ))s)"; }
record() { RESULT[$1]=$2; ORDER+=("$1"); }
summary() {
  echo
  echo "== GPU check summary ($(( $(date +%s) - start ))s), logs in $OUT"
  local failed=0
  for s in "${ORDER[@]}"; do
    printf '  %-10s %s\n' "$s" "${RESULT[$s]}"
    [[ "${RESULT[$s]}" == FAIL* ]] && failed=1
  done
  [ -f "$OUT/gpu_bench.txt" ] && cat "$OUT/gpu_bench.txt"
  exit $failed
}
trap summary EXIT

if [ -n "${FASTDET_WHEELS:-}" ]; then
  SITE=$(mktemp -d)
  "$PY" -m pip install -q --no-index --no-deps --no-compile --target "$SITE" "$FASTDET_WHEELS"/*.whl \
    || { echo "cannot install the wheels in $FASTDET_WHEELS"; exit 1; }
  export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
fi

# --------------------------------------------------------------------------------- preflight
NVCC=$(command -v nvcc || true)
[ -n "$NVCC" ] || { [ -x /usr/local/cuda/bin/nvcc ] && NVCC=/usr/local/cuda/bin/nvcc; }
if wanted preflight || wanted build; then
  note "preflight"
  {
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv || echo "PREFLIGHT-FAIL: nvidia-smi"
    if [ -n "$NVCC" ]; then "$NVCC" --version | tail -2; else echo "PREFLIGHT-FAIL: no nvcc on PATH or in /usr/local/cuda/bin"; fi
    "$PY" - <<'PY' || echo "PREFLIGHT-FAIL: python environment"
import sys, sysconfig, os, importlib, warnings
warnings.simplefilter("ignore")
print("python", sys.version.split()[0])
inc = sysconfig.get_paths()["include"]
ok = os.path.isfile(os.path.join(inc, "Python.h"))
print("Python.h", "found" if ok else f"MISSING in {inc}")
import pytest
print("pytest", pytest.__version__)
bad = not ok or int(pytest.__version__.split(".")[0]) < 8
for name in ("numpy", "torch", "torchvision", "cupy", "pytest_timeout", "pybind11", "scikit_build_core",
             "onnx", "onnxruntime", "onnx2pytorch", "cv2"):
    try:
        m = importlib.import_module(name)
        print(name, getattr(m, "__version__", "?"))
    except Exception as e:
        print(name, "NOT USABLE:", e); bad = True
import torch
print("torch.cuda", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
sys.exit(1 if bad or not torch.cuda.is_available() else 0)
PY
    for tool in cmake ninja; do
      command -v "$tool" >/dev/null || "$PY" -c "import $tool" 2>/dev/null || echo "PREFLIGHT-FAIL: no $tool (the build needs it)"
    done
    ASSETS=${FASTDET_ASSETS:-$REPO/../shared/assets}
    for f in models/yolov8n_w8.onnx images/bus.jpg; do
      [ -f "$ASSETS/$f" ] || echo "PREFLIGHT-FAIL: $ASSETS/$f missing (set FASTDET_ASSETS): the real-model tests would skip"
    done
    git -C "$REPO" rev-parse HEAD 2>/dev/null || true
    echo "c++: $(c++ --version | head -1); libstdc++.so: $(c++ -print-file-name=libstdc++.so)"
    env | grep -E '^(CMAKE_ARGS|CXXFLAGS|LDFLAGS|CFLAGS|CUDAARCHS|CUDAFLAGS)=' || true
  } >"$OUT/preflight.log" 2>&1
  cat "$OUT/preflight.log"
  pf=OK
  grep -q PREFLIGHT-FAIL "$OUT/preflight.log" && pf="FAIL: $(grep PREFLIGHT-FAIL "$OUT/preflight.log" | head -1)"
  record preflight "$pf"
  [[ "$pf" == OK ]] || exit 1
fi

# ------------------------------------------------------------------------------------- build
ARCHS=${FASTDET_CUDA_ARCHS:-native}
if wanted build; then
  note "build (nvcc $NVCC, CUDA architectures $ARCHS)"
  if CMAKE_ARGS="-DCMAKE_CUDA_COMPILER=$NVCC -DCMAKE_CUDA_ARCHITECTURES=$ARCHS ${CMAKE_ARGS:-}" timeout 150 \
      "$PY" -m pip install --no-build-isolation --no-deps --no-index -v . >"$OUT/build.log" 2>&1; then
    if grep -q "fastdet: CUDA core ON" "$OUT/build.log"; then
      record build "OK ($(grep -o 'CMAKE_CUDA_ARCHITECTURES[^ ]*' "$OUT/build.log" | head -1))"
    else
      grep -E "fastdet: |CUDA" "$OUT/build.log" | head -20
      record build "FAIL: built without the CUDA core (see build.log)"; exit 1
    fi
  else
    tail -40 "$OUT/build.log"
    record build "FAIL: build error (see build.log)"; exit 1
  fi
  # From outside the source tree, so the installed package is the one imported; after numpy,
  # torch and cupy, as the tests and users import them (a clash of C++ runtimes shows only then).
  if ! (cd "$OUT" && "$PY" -c 'import warnings; warnings.simplefilter("ignore")
import numpy, torch, cupy
import fastdet._core as c, sys
print("built_with_cuda", c.built_with_cuda, "cuda_available", c.cuda_available(), c.__file__)
sys.exit(0 if c.cuda_available() else 1)' 2>&1 | tee -a "$OUT/preflight.log"); then
    record import "FAIL: the CUDA build does not import, or sees no usable GPU"; exit 1
  fi
  ldd "$("$PY" -c 'import importlib.util as u; print(u.find_spec("fastdet._core").origin)')" | tee -a "$OUT/preflight.log"
fi

# ------------------------------------------------------------------------------------ pytest
# Third-party warnings (torch, cuDNN, CuPy) are reported, not turned into failures: -W default
# overrides the suite's filterwarnings = error on this box only.
run_pytest() {  # stage, timeout, extra args...
  local stage=$1 limit=$2; shift 2
  (cd "$REPO" && timeout "$limit" "$PY" -m pytest -p no:cacheprovider -q -rs -W default \
      --timeout 60 --junitxml="$OUT/pytest-$stage.xml" "$@") 2>&1 | tee "$OUT/pytest-$stage.log"
  local rc=${PIPESTATUS[0]}
  local skips
  skips=$("$PY" "$REPO/bench/junit_skips.py" "$OUT/pytest-$stage.xml" 2>&1)
  local skrc=$?
  if [ "$rc" -eq 124 ]; then record "$stage" "FAIL: timed out after ${limit}s"
  elif [ "$rc" -ne 0 ]; then record "$stage" "FAIL: pytest exit $rc"
  elif [ "$skrc" -ne 0 ]; then record "$stage" "FAIL: unexpected skips: $skips"
  else record "$stage" "OK ($skips)"; fi
}

SMOKE="test_letterbox_matches_cpu_fp32 and size0-ultralytics or test_decode_every_anchor_a_candidate_and_cap \
or test_decode_matches_cpu_every_format and yolov8 and float32 or test_pipeline_graph_replay_matches_eager and yolov8-True"
if wanted smoke; then
  note "smoke (-x)"
  run_pytest smoke 40 -x -m gpu tests/test_cuda_kernels.py -k "$SMOKE"
fi
if wanted tests; then
  note "GPU tests"
  # Only the modules that hold GPU tests (TensorRT and onnxruntime-gpu are not on the box):
  # collecting all of tests/ would report the modules that skip at import for packages this box
  # lacks (openvino, mlserver, pycocotools, ...) as unexpected skips.
  mapfile -t GPU_TESTS < <(cd "$REPO" && grep -l "pytest.mark.gpu" tests/test_*.py \
                           | grep -v -e test_onnxruntime_cuda -e test_tensorrt)
  run_pytest tests 90 -m "gpu and not tensorrt" "${GPU_TESTS[@]}"
fi

# ------------------------------------------------------------------------------------- bench
if wanted bench; then
  note "GPU benchmark"
  (cd "$REPO" && timeout 90 "$PY" bench/gpu_bench.py --out "$OUT/gpu_bench.json" --table "$OUT/gpu_bench.txt" \
      --iters 200) 2>&1 | tee "$OUT/gpu_bench.log"
  rc=${PIPESTATUS[0]}
  if [ "$rc" -eq 0 ]; then record bench OK; elif [ "$rc" -eq 124 ]; then record bench "FAIL: timed out";
  else record bench "FAIL: exit $rc"; fi
fi

# ---------------------------------------------------------------------------------- sanitize
if wanted sanitize; then
  note "compute-sanitizer"
  SAN=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null || true)
  if [ -z "$SAN" ]; then
    record sanitize "SKIP: compute-sanitizer not found"
  else
    res=""
    for tool in memcheck racecheck; do
      (cd "$REPO" && timeout 30 "$SAN" --tool "$tool" --error-exitcode 9 --target-processes all \
          "$PY" bench/gpu_sanitize.py) >"$OUT/sanitize-$tool.log" 2>&1
      rc=$?
      tail -5 "$OUT/sanitize-$tool.log"
      if grep -qiE "not supported|unable to|error 999" "$OUT/sanitize-$tool.log" && [ "$rc" -ne 9 ]; then
        res="$res $tool=SKIP(unsupported here)"
      elif [ "$rc" -eq 0 ]; then res="$res $tool=clean"
      elif [ "$rc" -eq 124 ]; then res="$res $tool=SKIP(timed out)"
      else res="$res $tool=FAIL(rc $rc)"; fi
    done
    if [[ "$res" == *FAIL* ]]; then record sanitize "FAIL:$res"; else record sanitize "OK:$res"; fi
  fi
fi
