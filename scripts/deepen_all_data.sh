#!/bin/bash
# After scripts/refine_all_data.sh: its model (checkpoints/all-data-refined.npz) with the
# network's distance floor at s_f = 0.70 (Cu–O 1.39 Å, Cu–Cu 1.85 Å, O–O 0.92 Å; the 46 of
# the 8,424 distinct training frames with a pair closer are left out: the network cannot
# follow them) and grown from 3 to 4 interaction
# blocks (the new block starts with a zero last layer, so the grown model computes what the
# 3-block one does), trained on the same frames with the same settings. Without the floor,
# refined models put Cu–O pairs at 1.0–1.3 Å tens of eV too low and the optimizer finds
# them. Resumes from checkpoints/all-data-deep.ckpt.npz.
#
#     OMP_NUM_THREADS=1 bash scripts/deepen_all_data.sh [OUT.npz]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/all_data.sh
refgc train $FRAMES $SHARED --init checkpoints/all-data-refined.npz --interactions 4 --floor-radius-scale 0.70 \
  --learning-rate 1e-4 --lr-patience 2 --min-learning-rate 1e-5 --patience 6 --max-epochs 16 \
  --energy-weight 600 --huber-force 0.3 --seed 2 \
  --checkpoint checkpoints/all-data-deep.ckpt.npz --out "${1:-checkpoints/all-data-deep.npz}"
