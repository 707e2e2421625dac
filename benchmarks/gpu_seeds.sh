#!/usr/bin/env bash
# A lent-GPU call (about eight minutes of an H200 with 16 CPU cores) prepared for the next
# session that has one: how far apart do three runs of one recipe land? Stage 8 (docs/
# MODEL_CARD.md) found two runs of stage 6's recipe further apart (0.033 of BM D³R, 0.028 of
# `holes` D³R) than any two recipes it compared, so no recipe can be ranked by one run each.
# Three runs of stage 6's recipe that differ only in the seed (r1, r2, r3; seeds 91-93), all
# with the same TRAIN_SET flags (default: the moving average of the weights, train.ema =
# 0.998), then the validation tables of all three beside the shipped default.
#
#   benchmarks/gpu_seeds.sh DATA PASSES OUT [FIRST_SECONDS] [MARGIN_SECONDS] [EVAL_SECONDS]
#
# DATA, PASSES, OUT and the carry: as in benchmarks/gpu_stage8.sh (a copy of the Middlebury
# folder and float16 copies of the monocular CNN passes, `python benchmarks/mono_cnn.py half`,
# in an ignored folder, 30 MB). Set
# DEADLINE (epoch seconds) so that the tables end in time, e.g.
#   DEADLINE=$(( $(date +%s) + 540 )) benchmarks/gpu_seeds.sh .carry/mb .carry/passes $OUT 230 120 140
# TRAIN_SET="" gives stage 6's recipe exactly (three more draws of stage 6, which stage 9, the
# default since 2026-12-05, fine-tunes); stage 9's data (DIS among the estimators) with
#   TRAIN_SET='train.ema=0.998 data.stereo_methods=["sgbm","bm","dis"]'
# (a lower real share, data.real_fraction=0.3, looked better on the unseen estimators in two
# CPU runs and did not replicate over four fresh seeds: docs/MODEL_CARD.md "Fewer real scenes").
# Since stage 10 (docs/MODEL_CARD.md "A mirrored world") every run should mirror its training
# pairs from the start (a CPU fine-tune of stage 9 did not fully unlearn stage 9's side prior):
#   TRAIN_SET='train.ema=0.998 data.stereo_methods=["sgbm","bm","dis"] data.mirror=0.5'
# and measure the returned runs with benchmarks/generalisation.py --mirror.
# Distilled from an ensemble (train.teachers; docs/MODEL_CARD.md "Distilling an ensemble"):
# carry the teachers too (stage 6: `git show f452684:sddr_core/weights/sddr_default.safetensors
# > .carry/teachers/s6.safetensors`; c8.safetensors from gpu_stage8.sh's results;
# leave out runs that trained on DIS passes, a8 and n8, to keep DIS unseen) and set
#   TRAIN_SET='train.ema=0.998 train.teachers=[".carry/teachers/s6.safetensors",".carry/teachers/c8.safetensors"]'
# Since stereo-tvl1 and stereo-ilk (below) are real estimators that nothing trains on, DIS
# may count as seen: then all four networks can teach (the four-network mean was the
# steadiest refiner on those two estimators, docs/MODEL_CARD.md), with
#   TRAIN_SET='train.ema=0.998 train.teachers=[".carry/teachers/s6.safetensors",".carry/teachers/a8.safetensors",".carry/teachers/c8.safetensors",".carry/teachers/n8.safetensors"]'
# With the time left in the same call (about 485 s of a 600 s call go to this script), the
# compiled network's GPU fraction, never measured yet (CUDA graphs; the first rounds compile):
#   timeout $LEFT python3 -m sddr_core bench fraction --device cuda --compile --refiners network --markdown
# Back here, each returned checkpoint on the two real estimators that nothing trains on
# (scikit-image's flows; docs/MODEL_CARD.md "Two more real estimators it never saw"), where
# the runs of one recipe differed most (stage 6 .742 δ1 on Motorcycle with ILK, c8 .795):
#   python benchmarks/generalisation.py --refiner r1=OUT/r1.safetensors --refiner r2=... \
#     --dataset middlebury2006:../shared/data/middlebury2006@val --dataset motorcycle \
#     --predictors stereo-tvl1,stereo-ilk --out DIR
# A dry run without a GPU:
#   DEVICE=cpu PREDICTORS=stereo-dis BAND_EXTRA="--set data.real_fraction=0 --set data.workers=0" \
#     benchmarks/gpu_seeds.sh ../shared/data/middlebury2006 runs /tmp/gpu-seeds-dry 8 5 60
set -u
DATA=$1
PASSES=$2
OUT=$3
SECS=${4:-230}
MARGIN_SECS=${5:-120}
EVAL_SECS=${6:-140}
TRAIN_SET=${TRAIN_SET-train.ema=0.998}
source benchmarks/gpu_lib.sh
gpu_init
RUNS=(r1 r2 r3)
declare -A SEEDS=([r1]=91 [r2]=92 [r3]=93)
declare -A RUN_SET=([r1]="$TRAIN_SET" [r2]="$TRAIN_SET" [r3]="$TRAIN_SET")
stage6_recipe "$SECS" "$MARGIN_SECS" "$EVAL_SECS"
