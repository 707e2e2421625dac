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
# ignores (.git/info/exclude) and carry it. The passes as written (51 MB) and the tracked tree
# (8 MB) exceed the 64 MiB a call may carry: carry float16 copies (20 MB; relative error 5e-4),
#   python benchmarks/mono_cnn.py half runs/mono-passes-A.npz .carry/passes/mono-passes-A.npz
# and the same for B.
# Run once on 2026-12-04 (results: docs/MODEL_CARD.md, "Stage 8"; 489 s in all):
#   DEADLINE=$(( $(date +%s) + 540 )) benchmarks/gpu_stage8.sh .carry/mb .carry/passes $OUT 230 120 140
# About 500 s. If device time is left, a second call measures the GPU fraction of the current
# default (stage 6 measured so on 2026-12-04: docs/BENCHMARKS.md, "On a GPU"):
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
RUNS=(a8 c8 n8)
declare -A SEEDS=([a8]=81 [c8]=82 [n8]=83)
declare -A RUN_SET=([a8]='data.stereo_methods=["sgbm","bm","dis"]'
  [c8]='data.stereo_methods=["sgbm","bm"]' [n8]='data.stereo_methods=["sgbm","dis"]')
stage6_recipe "$SECS" "$MARGIN_SECS" "$EVAL_SECS"
