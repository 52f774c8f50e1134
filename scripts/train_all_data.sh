#!/bin/bash
# One Cu-O model from scratch on every SevenNet-0 label refgc has (scripts/all_data.sh):
# the three Cu(110) data plans, the optimizer's labelled visits, and the Cu(100) and Cu(111)
# plans. 96 features, the shipped model's architecture and first-training settings with 80
# epochs at most. At the first training's 10⁻³ the loss jumped fivefold in the
# fourth epoch and early stopping (patience 8) kept the second epoch's model (42 meV/atom on
# the test frames): hence 5·10⁻⁴ and patience 20. Resumes from
# checkpoints/all-data.ckpt.npz.
#
#     OMP_NUM_THREADS=1 bash scripts/train_all_data.sh [OUT.npz]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/all_data.sh
refgc train $FRAMES $SHARED \
  --species Cu O --cutoff 5 --features 96 --rbf 20 --interactions 3 --prior-strength 1000 --prior-radius-scale 0.75 \
  --learning-rate 5e-4 --lr-patience 3 --min-learning-rate 1e-5 --patience 20 --max-epochs 80 --energy-weight 300 --seed 0 \
  --checkpoint checkpoints/all-data.ckpt.npz --out "${1:-checkpoints/all-data.npz}"
