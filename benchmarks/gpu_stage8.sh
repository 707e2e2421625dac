#!/usr/bin/env bash
# A lent-GPU call (about ten minutes of an H200 with 16 CPU cores) prepared for the next
# session that has one: does more real-estimator variety in training help on estimators the
# refiner never saw? Three band-fusion runs side by side, each stage 6's recipe
# (`bandfusion_gpu` from scratch, then `bandfusion_stage6`'s trust margin), differing only in
# the stereo matchers run on the training scenes (`data.stereo_methods`):
#   a8  SGBM, BM and DIS (every matcher there is)
#   c8  SGBM and BM (stage 6's data: the control; DIS held out)
#   n8  SGBM and DIS (BM held out)
# then the validation tables of all three beside the shipped default, stereo-dis included.
# Leave-one-estimator-out reads: DIS from c8 against a8, BM from n8 against a8.
#
#   benchmarks/gpu_stage8.sh DATA PASSES OUT [FIRST_SECONDS] [MARGIN_SECONDS] [EVAL_SECONDS]
#
# DATA: a copy of ../shared/data/middlebury2006 (it does not travel by itself; never commit
# it); PASSES: the folder with mono-passes-A.npz and mono-passes-B.npz (bandfusion_stage5's
# header); OUT: where weights and results.tgz go. Copy DATA and PASSES into one folder that git
# ignores (.git/info/exclude) and carry it: 10 + 51 MB of the 64 MiB a call may carry.
# About 560 s. If device time is left, a second call measures the GPU fraction of the current
# default (last measured on a GPU with the old sddr-b0 network):
#   OMP_NUM_THREADS=1 python3 -m sddr_core bench fraction --device cuda --refiners poisson network --markdown
# Set DEADLINE (epoch seconds) to shorten the tables' time when training took longer than planned.
# A dry run without a GPU (no real scenes, so no stereo passes to compute):
#   DEVICE=cpu PREDICTORS=stereo-dis BAND_EXTRA="--set data.real_fraction=0 --set data.workers=0" \
#     benchmarks/gpu_stage8.sh ../shared/data/middlebury2006 runs /tmp/gpu8-dry 20 10
set -u
DATA=$1
PASSES=$2
OUT=$3
SECS=${4:-240}
MARGIN_SECS=${5:-130}
EVAL_SECS=${6:-150}
source benchmarks/gpu_lib.sh
gpu_init
declare -A METHODS=([a8]='["sgbm","bm","dis"]' [c8]='["sgbm","bm"]' [n8]='["sgbm","dis"]')
declare -A SEEDS=([a8]=81 [c8]=82 [n8]=83)

# train_three SUFFIX VARIANT LR WARMUP [FROM_SUFFIX]: the three runs side by side into
# runs/<run>SUFFIX, from scratch or from runs/<run>FROM_SUFFIX.
train_three() {
  band_args 4
  for r in a8 c8 n8; do
    local init='""'
    [ -n "${5:-}" ] && init="\"$OUT/runs/$r$5/last.safetensors\""
    python3 -m sddr_core train "${BAND_ARGS[@]}" --out "$OUT/runs/$r$1" --seed "${SEEDS[$r]}" \
      --set "run.init_from=$init" --set "model.variant=\"$2\"" --set "train.lr=$3" \
      --set "train.warmup=$4" --set train.edge_weight=0.25 \
      --set "data.stereo_methods=${METHODS[$r]}" >"$OUT/logs/$r$1.log" 2>&1 &
  done
  wait
}
stamp() { echo "$(date +%T) $*" >>"$OUT/logs/times.txt"; }
stamp start
train_three -first bandfusion-sb 1e-3 300
stamp first done
SECS=$MARGIN_SECS
train_three "" bandfusion-sbm 3e-4 50 -first
stamp margin done
# DEADLINE (epoch seconds, optional): the tables get what is left before it, at most EVAL_SECONDS.
if [ -n "${DEADLINE:-}" ]; then
  left=$((DEADLINE - $(date +%s) - 15))
  [ "$left" -lt "$EVAL_SECS" ] && EVAL_SECS=$((left > 30 ? left : 30))
fi
eval_refiners "$EVAL_SECS" "s6=sddr_core/weights/sddr_default.safetensors" $(trained a8 c8 n8)
stamp eval done
pack a8 c8 n8
