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
DEVICE=${DEVICE:-cuda}
PREDICTORS=${PREDICTORS:-family-sddr family-structural family-texture family-lowfreq family-holes family-quantize family-high-good family-high-unusable stereo-sgbm stereo-bm}
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
mkdir -p "$OUT/logs" "$OUT/eval" "$OUT/runs"
common=(--config bandfusion_stage5 --device "$DEVICE" --no-progress
  --set "data.middlebury2006=\"$DATA\""
  --set "data.real_passes=[\"$PASSES/mono-passes-A.npz\",\"$PASSES/mono-passes-B.npz\"]"
  --set "run.init_from=\"$GE\"" --set train.steps=100000 --set "train.max_seconds=$SECS"
  --set train.batch_size=32 --set data.pool_size=1024 --set data.workers=6 --set run.threads=2
  --set train.lr=3e-4 --set train.warmup=50 --set train.edge_weight=0.25
  --set train.log_every=100 --set train.checkpoint_every=1000)
python3 -m sddr_core train "${common[@]}" --out "$OUT/runs/gm" --seed 21 \
  --set 'model.variant="bandfusion-sbm"' >"$OUT/logs/gm.log" 2>&1 &
python3 -m sddr_core train "${common[@]}" --out "$OUT/runs/gx" --seed 21 \
  --set 'model.variant="bandfusion-sb"' >"$OUT/logs/gx.log" 2>&1 &
timeout $((SECS + 20)) python3 -m pytest -v -p no:cacheprovider -n 2 tests/models \
  tests/inference/test_refine.py tests/inference/test_sequence.py >"$OUT/logs/pytest-cuda.log" 2>&1
wait
refs="ge=$GE"
for r in gm gx; do
  [ -f "$OUT/runs/$r/last.safetensors" ] && refs="$refs $r=$OUT/runs/$r/last.safetensors"
done
for p in $PREDICTORS; do for ref in $refs; do echo "$p $ref"; done; done |
  timeout 110 xargs -P 14 -L 1 sh -c 'python3 benchmarks/generalisation.py --refiner "$1" \
    --predictors "$0" --dataset "middlebury2006:'"$DATA"'@val" --out "'"$OUT"'/eval/$0-${1%%=*}" \
    >"'"$OUT"'/logs/eval-$0-${1%%=*}.log" 2>&1'
for r in gm gx; do
  cp "$OUT/runs/$r/last.safetensors" "$OUT/$r.safetensors" 2>/dev/null
  cp "$OUT/runs/$r/log.csv" "$OUT/logs/$r-log.csv" 2>/dev/null
done
rm -rf "$OUT/runs"
tar czf "$OUT/results.tgz" -C "$OUT" logs eval && rm -rf "$OUT/logs" "$OUT/eval"
ls -la "$OUT"
