#!/usr/bin/env bash
# One lent-GPU session (an H200 with 16 CPU cores, about ten minutes): three band-fusion
# training runs side by side on the GPU, time-boxed, then their validation tables beside the
# shipped default's, the test suite on a CUDA machine and the GPU fraction benchmark.
#
#   benchmarks/gpu_session.sh DATA PASSES OUT [TRAIN_SECONDS]
#
# DATA: a copy of ../shared/data/middlebury2006 (it does not travel by itself; never commit
# it), PASSES: the folder holding mono-passes-A.npz and mono-passes-B.npz
# (benchmarks/mono_cnn.py passes), OUT: where logs, weights and tables go (results.tgz holds
# all but the weights). Runs (every one from bandfusion_stage5's data recipe: real training
# scenes with both stereo matchers and the two cross-fitted monocular CNNs, procedural
# scenes, every family; batch 32 from a pool of 1024 pairs drawn by 4 worker processes each):
#   gs  from scratch, lr 1e-3 (300 warm-up steps), gradient weight 2
#   gc  from the shipped default (stage 5), lr 1.5e-4
#   ge  as gs with the edge term at weight 0.25
# and the monocular CNNs mono-cnn (1200 steps) and mono-cnn2 (2500 steps, seed 1).
set -u
DATA=$1
PASSES=$2
OUT=$3
SECS=${4:-270}
# A dry run without a GPU: DEVICE=cpu PREDICTORS=stereo-bm MONO_ARGS="--steps 5" ... 5
source benchmarks/gpu_lib.sh
gpu_init
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  python3 -c "import torch, cv2; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'cv2', cv2.__version__)"
  nproc
} >"$OUT/logs/machine.txt" 2>&1

band_args 4
python3 -m sddr_core train "${BAND_ARGS[@]}" --out "$OUT/runs/gs" --seed 11 \
  --set 'run.init_from=""' --set train.lr=1e-3 --set train.warmup=300 \
  >"$OUT/logs/gs.log" 2>&1 &
python3 -m sddr_core train "${BAND_ARGS[@]}" --out "$OUT/runs/gc" --seed 12 \
  --set 'run.init_from="sddr_core/weights/sddr_default.safetensors"' --set train.lr=1.5e-4 \
  --set train.warmup=50 >"$OUT/logs/gc.log" 2>&1 &
python3 -m sddr_core train "${BAND_ARGS[@]}" --out "$OUT/runs/ge" --seed 13 \
  --set 'run.init_from=""' --set train.lr=1e-3 --set train.warmup=300 \
  --set train.edge_weight=0.25 >"$OUT/logs/ge.log" 2>&1 &
# Meanwhile: the two monocular CNNs of the model card's evaluation (all 14 training scenes),
# and the library's tests on a machine with CUDA (device "auto" picks the GPU).
python3 benchmarks/mono_cnn.py train --data "$DATA" --out "$OUT/mono-cnn.safetensors" \
  --device "$DEVICE" ${MONO_ARGS:-} >"$OUT/logs/mono-cnn.log" 2>&1 &
python3 benchmarks/mono_cnn.py train --data "$DATA" --out "$OUT/mono-cnn2.safetensors" \
  --steps 2500 --seed 1 --device "$DEVICE" ${MONO_ARGS:-} >"$OUT/logs/mono-cnn2.log" 2>&1 &
timeout $((SECS + 30)) python3 -m pytest -v -p no:cacheprovider -n 2 --maxfail=20 \
  tests/inference tests/refiners tests/models tests/ops tests/metrics tests/predictors \
  tests/test_public_api.py \
  >"$OUT/logs/pytest-cuda.log" 2>&1
wait
nvidia-smi --query-gpu=memory.used --format=csv >>"$OUT/logs/machine.txt" 2>&1

# The GPU fraction benchmark while the machine is otherwise quiet.
timeout 60 python3 -m sddr_core bench fraction --device "$DEVICE" --markdown \
  >"$OUT/logs/bench-fraction-$DEVICE.md" 2>&1
# Validation tables beside the default of the time (stage 5 when this ran).
eval_refiners 200 "s5=sddr_core/weights/sddr_default.safetensors" $(trained gs gc ge)
pack gs gc ge
