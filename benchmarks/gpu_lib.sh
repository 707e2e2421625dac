# Shared by the benchmarks/gpu_*.sh scripts (sourced, not run): the environment, the
# band-training flags every GPU run shares, stage 6's recipe for several runs side by side,
# the validation tables and the packing of results into $OUT (what comes back from a lent
# machine: a few files).
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

# train_runs SUFFIX VARIANT LR WARMUP [FROM_SUFFIX]: the runs named in RUNS side by side with
# stage 6's recipe (edge term 0.25, 4 drawing processes each), seed SEEDS[run], more
# `--set KEY=VALUE` flags from RUN_SET[run] (space-separated, no spaces inside a value), into
# $OUT/runs/<run>SUFFIX, from scratch or from $OUT/runs/<run>FROM_SUFFIX.
train_runs() {
  band_args 4
  for r in "${RUNS[@]}"; do
    local init='""' extra=()
    [ -n "${5:-}" ] && init="\"$OUT/runs/$r$5/last.safetensors\""
    local kvs=()
    read -r -a kvs <<<"${RUN_SET[$r]:-}"  # split on spaces, no globbing of [..] values
    for kv in "${kvs[@]}"; do extra+=(--set "$kv"); done
    python3 -m sddr_core train "${BAND_ARGS[@]}" --out "$OUT/runs/$r$1" --seed "${SEEDS[$r]}" \
      --set "run.init_from=$init" --set "model.variant=\"$2\"" --set "train.lr=$3" \
      --set "train.warmup=$4" --set train.edge_weight=0.25 "${extra[@]}" \
      >"$OUT/logs/$r$1.log" 2>&1 &
  done
  wait
}

stamp() { echo "$(date +%T) $*" >>"$OUT/logs/times.txt"; }

# stage6_recipe FIRST_SECONDS MARGIN_SECONDS EVAL_SECONDS: the runs of RUNS as stage 6 was
# trained (bandfusion_gpu's settings from scratch, then bandfusion_stage6's trust margin from
# there), the validation tables of each beside the shipped default, and the packing. With
# DEADLINE (epoch seconds) set, the tables get what is left before it, at most EVAL_SECONDS.
stage6_recipe() {
  local eval_secs=$3
  stamp start
  SECS=$1
  train_runs -first bandfusion-sb 1e-3 300
  stamp first done
  SECS=$2
  train_runs "" bandfusion-sbm 3e-4 50 -first
  stamp margin done
  if [ -n "${DEADLINE:-}" ]; then
    local left=$((DEADLINE - $(date +%s) - 15))
    [ "$left" -lt "$eval_secs" ] && eval_secs=$((left > 30 ? left : 30))
  fi
  # shellcheck disable=SC2046
  eval_refiners "$eval_secs" "default=sddr_core/weights/sddr_default.safetensors" $(trained "${RUNS[@]}")
  stamp eval done
  pack "${RUNS[@]}"
}
