#!/usr/bin/env bash
# Blender add-on tiers (issue 7), called by .ci/run. Idempotent.
#
# On a clean Debian/Ubuntu machine (as root) it installs the system libraries bpy needs,
# creates .venv-bpy with bpy==5.0.1 + pytest (bpy pins numpy<2, which cannot share an
# environment with sddr's opencv, hence a venv of its own), then runs
#   1. the numpy-only mesh tests with that venv's numpy<2 (what Blender's Python has);
#   2. the bpy tier: pytest -m blender (extension validate/build, install, pipeline, matching
#      camera render, .blend/GLB/OBJ, operators, the first render in the startup scene, and
#      the measured Motorcycle views: full-size camera view, 15/30 degree orbits, loose parts;
#      SDDR_TEST_VIEWS_OUT=DIR keeps those renders and measured.json). The end-to-end worker test uses the main
#      Python (the one with sddr's dependencies) as the worker when sddr_core imports there.
# The mesh and worker protocol tests also run in the main Python with the plain `pytest`.
# Extra arguments go to both pytest runs. Environment: SDDR_BPY_VENV (default .venv-bpy),
# PYTHON (the main Python, default: python, else python3).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
VENV=${SDDR_BPY_VENV:-$REPO/.venv-bpy}
MAIN_PYTHON=${PYTHON:-$(command -v python || command -v python3)}
LIBS=(libx11-6 libxrender1 libxfixes3 libxi6 libxkbcommon0 libsm6 libice6 libgl1 libglx0
      libxext6 libxcb1 libegl1)

# --- system libraries ----------------------------------------------------------------------
if command -v dpkg-query >/dev/null; then
  missing=()
  for lib in "${LIBS[@]}"; do
    dpkg-query -W -f='${Status}' "$lib" 2>/dev/null | grep -q "install ok installed" \
      || missing+=("$lib")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "installing system libraries for bpy: ${missing[*]}"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
    else
      echo "warning: missing ${missing[*]} (run as root to install); bpy may not import" >&2
    fi
  fi
fi

# --- the bpy venv (Python 3.11: bpy 5.0 is built for it) ------------------------------------
if ! "$VENV/bin/python" -c "import bpy, pytest; assert bpy.app.version[:2] == (5, 0)" \
     >/dev/null 2>&1; then
  PY311=""
  for candidate in python3.11 "$MAIN_PYTHON" python3; do
    if command -v "$candidate" >/dev/null \
       && "$candidate" -c "import sys; assert sys.version_info[:2] == (3, 11)" 2>/dev/null; then
      PY311=$(command -v "$candidate")
      break
    fi
  done
  if [ -z "$PY311" ]; then
    echo "error: bpy 5.0.1 needs Python 3.11; none found" >&2
    exit 1
  fi
  rm -rf "$VENV"
  "$PY311" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q "bpy==5.0.1" pytest
fi
"$VENV/bin/python" -c "import bpy, numpy; print('bpy', bpy.app.version_string, 'numpy', numpy.__version__)"

# --- the worker Python for the end-to-end test ----------------------------------------------
if [ -z "${SDDR_TEST_WORKER_PYTHON:-}" ] \
   && PYTHONPATH="$REPO" "$MAIN_PYTHON" -c "import sddr_core" >/dev/null 2>&1; then
  SDDR_TEST_WORKER_PYTHON=$("$MAIN_PYTHON" -c "import sys; print(sys.executable)")
  export SDDR_TEST_WORKER_PYTHON
fi

# --- the Motorcycle photo + SDDR depth for the measured views (test_blender_views.py) --------
if [ -z "${SDDR_TEST_MOTORCYCLE_DIR:-}" ]; then
  MOTO_DIR=${TMPDIR:-/tmp}/sddr-blender-motorcycle
  if [ -f "$MOTO_DIR/depth.npy" ] || PYTHONPATH="$REPO" "$MAIN_PYTHON" \
      integrations/blender/docs/make_render_example.py prepare "$MOTO_DIR" >/dev/null; then
    export SDDR_TEST_MOTORCYCLE_DIR=$MOTO_DIR
  else
    echo "warning: could not prepare the Motorcycle depth; the measured views will skip" >&2
  fi
fi

# --- tests ---------------------------------------------------------------------------------
# --confcutdir keeps tests/conftest.py (it imports sddr_core) out of the bpy venv.
PYTEST=("$VENV/bin/python" -m pytest -p no:cacheprovider --confcutdir=tests/integrations/blender)
status=0
echo "--- numpy mesh tests with the bpy venv's numpy ---"
"${PYTEST[@]}" -m "not blender" tests/integrations/blender/test_blender_mesh.py "$@" || status=1
echo "--- bpy tier (pytest -m blender) ---"
"${PYTEST[@]}" -m blender tests/integrations/blender "$@" || status=1
exit $status
