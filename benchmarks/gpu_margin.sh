#!/usr/bin/env bash
# Second lent-GPU call of 2026-12-04: does a trust map that reaches 0 and 1 (variant
# bandfusion-sbm, BandFusionConfig.trust_margin) help? Two continuations of the run `ge` of
# benchmarks/gpu_session.sh, side by side and otherwise identical: gm with the margin, gx
# without; then both and ge on the validation scenes, and the CUDA fixes' tests.
#
#   benchmarks/gpu_margin.sh DATA PASSES GE OUT [TRAIN_SECONDS]
set -u
DATA=$1
PASSES=$2
GE=$3
OUT=$4
SECS=${5:-130}
source benchmarks/gpu_lib.sh
gpu_init
band_args 6
BAND_ARGS+=(--set "run.init_from=\"$GE\"" --set train.lr=3e-4 --set train.warmup=50
  --set train.edge_weight=0.25)
python3 -m sddr_core train "${BAND_ARGS[@]}" --out "$OUT/runs/gm" --seed 21 \
  --set 'model.variant="bandfusion-sbm"' >"$OUT/logs/gm.log" 2>&1 &
python3 -m sddr_core train "${BAND_ARGS[@]}" --out "$OUT/runs/gx" --seed 21 \
  --set 'model.variant="bandfusion-sb"' >"$OUT/logs/gx.log" 2>&1 &
timeout $((SECS + 20)) python3 -m pytest -v -p no:cacheprovider -n 2 tests/models \
  tests/inference/test_refine.py tests/inference/test_sequence.py >"$OUT/logs/pytest-cuda.log" 2>&1
wait
eval_refiners 110 "ge=$GE" $(trained gm gx)
pack gm gx
