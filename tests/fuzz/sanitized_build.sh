#!/usr/bin/env bash
# Builds fastdet's CPU core and binding with AddressSanitizer + UndefinedBehaviorSanitizer into
# a folder of its own and runs the test suite against it (the installed fastdet is left alone).
#
#   tests/fuzz/sanitized_build.sh [PYTEST ARGS...]
#
# The Python interpreter is not instrumented, so the sanitizer runtime is preloaded; leak
# detection is off (CPython frees little at exit). Any ASan or UBSan report aborts the run.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python}
BUILD=build/sanitize
PKG=$BUILD/pkg
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFASTDET_CUDA=OFF -DFASTDET_SANITIZE=ON \
  -DSKBUILD_PROJECT_VERSION=0.1.0 -DPython_EXECUTABLE="$(command -v "$PY")" \
  -Dpybind11_DIR="$("$PY" -m pybind11 --cmakedir)" >"$BUILD.log" 2>&1 || { tail -30 "$BUILD.log"; exit 1; }
cmake --build "$BUILD" -j "$(nproc)" >>"$BUILD.log" 2>&1 || { tail -30 "$BUILD.log"; exit 1; }
rm -rf "$PKG" && mkdir -p "$PKG"
cp -r python/fastdet "$PKG/fastdet"
cp "$BUILD"/_core*.so "$PKG/fastdet/"
ASAN_RT=$(${CXX:-c++} -print-file-name=libasan.so)
UBSAN_RT=$(${CXX:-c++} -print-file-name=libubsan.so)
export LD_PRELOAD="$ASAN_RT $UBSAN_RT"
export ASAN_OPTIONS=detect_leaks=0:halt_on_error=1:abort_on_error=1:detect_odr_violation=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export PYTHONPATH="$PWD/$PKG${PYTHONPATH:+:$PYTHONPATH}"
"$PY" -c 'import fastdet, sys; assert "sanitize" in fastdet.__file__, "an editable install of fastdet shadows PYTHONPATH: run this from a regular install (pip install .) or a venv without fastdet; imported " + fastdet.__file__; print("sanitized fastdet:", fastdet.__file__)'
exec "$PY" -m pytest -p no:cacheprovider -q "$@"
