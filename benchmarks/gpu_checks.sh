#!/usr/bin/env bash
# A lent-GPU call (about six minutes) prepared for the next session that has one: the
# inference path on the device, which no session has run since the edge snap (2026-12-05).
#
#   benchmarks/gpu_checks.sh OUT [DEVICE]
#
# From the repository root, with nothing carried (no data, no runs: Motorcycle comes with
# scikit-image, the predictor of `sddr bench fraction` is built from its config). Writes
# into OUT:
#   agreement.md   refine() on the CPU and on DEVICE for network/Poisson x one-/two-stage x
#                  snap on/off x disparity/depth (benchmarks/device_agreement.py): largest
#                  difference, share of pixels off by > 0.1 %, whether the guard and the snap
#                  decided alike, wall times on both;
#   snap_cost.txt  the snap's time on DEVICE at 1024 and 4000 px wide, and how many pixels
#                  differ from the CPU's snap (benchmarks/snap_cost.py);
#   fraction.md    `sddr bench fraction --device DEVICE` with the +snap rows (issue 11's GPU
#                  targets: network <= 10 %, Poisson <= 15 % of the predictor's pass);
#   logs of each step, and nvidia-smi before and after.
# Each step has its own time limit, so one that hangs leaves the others' results. A dry run
# on the CPU (about three minutes here): benchmarks/gpu_checks.sh /tmp/gpu-dry cpu
set -u
OUT=${1:?usage: benchmarks/gpu_checks.sh OUT [DEVICE]}
DEVICE=${2:-cuda}
mkdir -p "$OUT"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
step() {  # step NAME SECONDS COMMAND...: run, keep stdout as the result and stderr as a log
  local name=$1 limit=$2
  shift 2
  local t0=$SECONDS
  timeout "$limit" "$@" >"$OUT/$name" 2>"$OUT/$name.log"
  echo "$name: exit $? after $((SECONDS - t0)) s" | tee -a "$OUT/steps.txt"
}
nvidia-smi >"$OUT/nvidia-smi-before.txt" 2>&1 || echo "no nvidia-smi" >"$OUT/nvidia-smi-before.txt"
step info.txt 60 python3 -m sddr_core info
step agreement.md 150 python3 benchmarks/device_agreement.py --device "$DEVICE"
step snap_cost.txt 90 sh -c "python3 benchmarks/snap_cost.py --width 1024 --device $DEVICE \
  && python3 benchmarks/snap_cost.py --width 4000 --repeats 2 --device $DEVICE"
step fraction.md 150 python3 -m sddr_core bench fraction --device "$DEVICE" --repeats 5 --markdown
nvidia-smi >"$OUT/nvidia-smi-after.txt" 2>&1 || true
