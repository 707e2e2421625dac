# Shared by benchmarks/gpu_session.sh and benchmarks/gpu_margin.sh (sourced, not run): the
# environment, the band-training flags every GPU run shares, the validation tables and the
# packing of results into $OUT (what comes back from a lent machine: a few files).
# Expects DATA, PASSES, OUT and SECS to be set; DEVICE (default cuda) and PREDICTORS (default:
# the validation table's predictors of the time) may be.

DEVICE=${DEVICE:-cuda}
PREDICTORS=${PREDICTORS:-family-sddr family-structural family-texture family-lowfreq family-holes family-quantize family-high-good family-high-unusable stereo-sgbm stereo-bm stereo-dis}

gpu_init() {
  export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
  mkdir -p "$OUT/logs" "$OUT/eval" "$OUT/runs"
}

# band_args WORKERS: the flags of `sddr train` shared by every GPU run (stage 5's data recipe,
# batch 32 from a pool of 1024 pairs, time-boxed at SECS), into the array BAND_ARGS.
band_args() {
  BAND_ARGS=(--config bandfusion_stage5 --device "$DEVICE" --no-progress
    --set "data.middlebury2006=\"$DATA\""
    --set "data.real_passes=[\"$PASSES/mono-passes-A.npz\",\"$PASSES/mono-passes-B.npz\"]"
    --set train.steps=100000 --set "train.max_seconds=$SECS" --set train.batch_size=32
    --set data.pool_size=1024 --set "data.workers=$1" --set run.threads=2
    --set train.log_every=100 --set train.checkpoint_every=1000)
  # BAND_EXTRA: more flags, last so they win (a dry run on a CPU:
  # BAND_EXTRA="--set data.real_fraction=0 --set data.workers=0").
  # shellcheck disable=SC2206
  BAND_ARGS+=(${BAND_EXTRA:-})
}

# eval_refiners SECONDS NAME=PATH...: the validation table of each refiner on each predictor
# of PREDICTORS, one process per pair, 14 at a time, into $OUT/eval/<predictor>-<name>.
eval_refiners() {
  local limit=$1
  shift
  for p in $PREDICTORS; do for ref in "$@"; do echo "$p $ref"; done; done |
    timeout "$limit" xargs -P 14 -L 1 sh -c 'python3 benchmarks/generalisation.py \
      --refiner "$1" --predictors "$0" --dataset "middlebury2006:'"$DATA"'@val" \
      --out "'"$OUT"'/eval/$0-${1%%=*}" >"'"$OUT"'/logs/eval-$0-${1%%=*}.log" 2>&1'
}

# trained NAME...: NAME=PATH for each run of $OUT/runs that wrote a checkpoint.
trained() {
  for r in "$@"; do
    [ -f "$OUT/runs/$r/last.safetensors" ] && echo "$r=$OUT/runs/$r/last.safetensors"
  done
}

# pack RUN...: each run's checkpoint to $OUT/RUN.safetensors, logs and tables into
# $OUT/results.tgz.
pack() {
  for r in "$@"; do
    cp "$OUT/runs/$r/last.safetensors" "$OUT/$r.safetensors" 2>/dev/null
    cp "$OUT/runs/$r/log.csv" "$OUT/logs/$r-log.csv" 2>/dev/null
  done
  rm -rf "$OUT/runs"
  tar czf "$OUT/results.tgz" -C "$OUT" logs eval && rm -rf "$OUT/logs" "$OUT/eval"
  ls -la "$OUT"
}
