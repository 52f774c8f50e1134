#!/bin/bash
# After scripts/deepen_all_data.sh and two `refgc learn` rounds on its model: the learn run's
# kept model (data/default/learn-deep/model.npz: 4 blocks, floor at s_f = 0.70) trained on,
# on every label and the learn run's visits (counted twice, as there), from a learning rate
# twice the deepening's and with more patience. At 1e-4 and below the validation loss of the
# deepening and of the learn rounds stays at 0.058, while the first stage's was still falling
# at 2e-4 (scripts/refine_all_data.sh): is the all-data model short of a schedule, or of room?
# Resumes from checkpoints/all-data-extended.ckpt.npz.
#
#     OMP_NUM_THREADS=1 bash scripts/extend_all_data.sh [OUT.npz]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/all_data.sh
refgc train $FRAMES $DEEP $DEEP $SHARED --init $D/learn-deep/model.npz \
  --learning-rate 2e-4 --lr-patience 3 --min-learning-rate 1e-5 --patience 8 --max-epochs 30 \
  --energy-weight 600 --huber-force 0.3 --seed 5 \
  --checkpoint checkpoints/all-data-extended.ckpt.npz --out "${1:-checkpoints/all-data-extended.npz}"
