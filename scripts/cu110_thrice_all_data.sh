#!/bin/bash
# After scripts/cu110_twice_all_data.sh: its model fine-tuned 6 more epochs with the Cu(110)
# data plans' frames counted three times (test 5.60 meV/atom after counting them twice).
# Resumes from checkpoints/all-data-cu110-thrice.ckpt.npz.
#
#     OMP_NUM_THREADS=1 bash scripts/cu110_thrice_all_data.sh [OUT.npz]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/all_data.sh
LEARNT="$D/learn-deep/round-0/visits.extxyz $D/learn-deep/round-1/visits.extxyz $D/learn-f/round-0/visits.extxyz"
CU110="$D/train.extxyz.xz $D/train2.extxyz.xz $D/train3.extxyz.xz"
refgc train $FRAMES $LEARNT $LEARNT $CU110 $CU110 $SHARED --init checkpoints/all-data-cu110-twice.npz \
  --learning-rate 5e-5 --lr-patience 2 --min-learning-rate 1e-5 --patience 3 --max-epochs 6 \
  --energy-weight 300 --seed 11 \
  --checkpoint checkpoints/all-data-cu110-thrice.ckpt.npz --out "${1:-checkpoints/all-data-cu110-thrice.npz}"
