#!/usr/bin/env bash
# Regenerate the default model end to end: label the training and held-out data with
# SevenNet-0, train, evaluate. Hours on 2 cores; every step resumes where it stopped.
# The whole history of the default model is here; the shipped one needs only the labelled
# data (steps 1 and the train2/train3 plans), the wide96_2h run (about 100 min on both cores)
# and step 4.
#   bash scripts/make_default_model.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 PYTHONUNBUFFERED=1
pip install ".[label]"
# 1. training data (seed 0, about 2,250 frames) and a held-out test set (seed 1, never trained on)
python scripts/make_default_data.py --workers 2
python scripts/make_default_data.py --workers 2 --seed 1 --out data/default/test.extxyz \
    --n-insertion 30 --n-relax 25 --n-template 5 --n-o2 4 --n-bulk 8
# 2. training in two stages, each resuming from its checkpoint.
# Stage 1: r_c 5 Å (SevenNet-0's own cutoff), 64 features, 3 blocks, the default loss weights;
# about 58 s per epoch on one core; it stopped early after 46 epochs (45 min), held-out
# 10.8 meV/atom and 0.129 eV/Å.
refgc train data/default/train.extxyz.xz --references data/default/references.json \
    --test data/default/test.extxyz.xz --out data/default/stage1.npz --checkpoint data/default/train.ckpt.npz \
    --species Cu O --cutoff 5.0 --features 64 --rbf 20 --interactions 3 \
    --learning-rate 1e-3 --batch-size 8 --lr-patience 5 --patience 20 --max-epochs 150 --seed 0
# Stage 2: fine-tune stage 1 with energies weighted 10x more (forces dominated the loss ~7:1);
# held-out 8.5 meV/atom, 0.136 eV/Å after 22 epochs.
refgc train data/default/train.extxyz.xz --references data/default/references.json \
    --test data/default/test.extxyz.xz --out data/default/stage2.npz --checkpoint data/default/stage2.ckpt.npz \
    --init data/default/stage1.npz --energy-weight 1000 --learning-rate 3e-4 \
    --batch-size 8 --lr-patience 5 --patience 15 --max-epochs 22 --seed 0   # stopped at 22 epochs (20 min) for time
# 3. active learning: run the optimizer over Δμ_O ∈ [-2, 0] and label where it ends (and
# snapshots of its fractional stage) with SevenNet-0, into data/default/active.extxyz; a few
# restarts from another seed go to held-out files (--test-out). Round 1a: stage 1 as trained
# (A = 5 eV, s = 0.6); it collapses O-O to 0.6 Å and Cu-Cu to 1 Å, overbinding by up to
# 7.8 eV/atom. Round 1b: stage 1 with a stiffer prior, A = 1000 eV, s = 0.7. Round 2: stage 2
# with A = 1000 eV, s = 0.75 (walls at Cu-Cu 1.98, Cu-O 1.49, O-O 0.99 Å: the 1st percentile
# of the training contacts), which leaves far fewer collapsed structures.
python scripts/active_learning.py --model data/default/stage1.npz
python scripts/active_learning.py --model data/default/stage1.npz --prior-strength 1000 --prior-radius-scale 0.7 \
    --tag al1b --test-restarts 0
python scripts/active_learning.py --model data/default/stage2.npz --prior-strength 1000 --prior-radius-scale 0.75 \
    --tag al2 --test-out data/default/active_test2.extxyz
# Stage 3: fine-tune stage 2 on the training and active-learning frames with that prior, leaving
# out frames with a force component above 20 eV/Å. Held-out 8.6 meV/atom, 0.166 eV/Å, but the
# optimizer drives it into new collapses (ΔG of -43,000 eV): NOT shipped (README, "The default model").
refgc train data/default/train.extxyz.xz data/default/active.extxyz.xz --references data/default/references.json \
    --test data/default/test.extxyz.xz --out data/default/stage3.npz --checkpoint data/default/stage3.ckpt.npz \
    --init data/default/stage2.npz --prior-strength 1000 --prior-radius-scale 0.75 --max-force 20 \
    --energy-weight 1000 --learning-rate 3e-4 --batch-size 8 --lr-patience 4 --patience 8 --max-epochs 25 --seed 0
python scripts/active_learning.py --model data/default/stage3.npz --tag visits3 --restarts 2 --seed 101 \
    --test-restarts 0 --out data/default/active_test3.extxyz
# Stage 4: fine-tune stage 2 with the stiffer prior, a lower rate and an exponential moving average
# of the parameters (EMA). Best at epoch 1 of 16 (15 more without improvement, 61 s each): the
# training loss fell from 0.24 to 0.16 while validation stayed at 0.31, so the network overfits
# these 1,868 frames. Held-out 8.19 meV/atom, 0.135 eV/Å: not enough better to ship.
refgc train data/default/train.extxyz.xz --references data/default/references.json \
    --test data/default/test.extxyz.xz --out data/default/stage4.npz --checkpoint data/default/stage4.ckpt.npz \
    --init data/default/stage2.npz --prior-strength 1000 --prior-radius-scale 0.75 --energy-weight 1000 \
    --learning-rate 1e-4 --ema-decay 0.998 --batch-size 8 --lr-patience 4 --patience 15 --max-epochs 100 --seed 0
# Round 3 of active learning: the shipped model under the optimizer's new start (q ~ U(1/2, 1),
# kappa = 10); its held-out visits go to active_test4. Not trained on yet.
python scripts/active_learning.py --tag al3 --test-out data/default/active_test4.extxyz
# More data of the training distribution, from an independent plan (seed 2): the first 428 of
# its 760 tasks (stopped there for time), 1,169 frames, frozen so that stage 5 is reproducible;
# further data go into a plan with another seed.
python scripts/make_default_data.py --seed 2 --max-tasks 428 --out data/default/train2.extxyz --skip-references
# Stage 5: fine-tune stage 4 on both training sets (2,924 training, 325 validation frames), EMA.
refgc train data/default/train.extxyz.xz data/default/train2.extxyz.xz --references data/default/references.json \
    --test data/default/test.extxyz.xz --out data/default/stage5.npz --checkpoint data/default/stage5.ckpt.npz \
    --init data/default/stage4.npz --energy-weight 1000 --learning-rate 1e-4 \
    --ema-decay 0.998 --batch-size 8 --lr-patience 3 --patience 6 --max-epochs 30 --seed 0
# More data from a third independent plan (seed 3): all 760 tasks, 2,074 frames (two workers,
# about 50 frames/min, 42 min in all); rerunning resumes from train3.extxyz.xz.
python scripts/make_default_data.py --seed 3 --out data/default/train3.extxyz --skip-references --workers 2
# Stage 6: fine-tune stage 5 on all three training sets, validating on 20 % of train3's
# trajectories only (--validation-from: stage 5 was trained on train and train2, so a split
# of those would measure forgetting): 4,903 training and 420 validation frames. Shipped after
# 32 epochs first; then resumed from its checkpoint to 85 epochs (137 s each, 194 min in all;
# the rate halved at epochs 54, 75 and 84), best at epoch 81: that is the shipped model.
refgc train data/default/train.extxyz.xz data/default/train2.extxyz.xz data/default/train3.extxyz.xz \
    --validation-from data/default/train3.extxyz.xz --validation-fraction 0.2 --references data/default/references.json \
    --test data/default/test.extxyz.xz --out data/default/stage6.npz --checkpoint data/default/stage6.ckpt.npz \
    --init data/default/stage5.npz --energy-weight 1000 --learning-rate 1e-4 \
    --ema-decay 0.998 --batch-size 8 --lr-patience 3 --patience 6 --max-epochs 85 --seed 0
# Stage 7: stage 6 with energy weight 300, same data and validation frames; 47 epochs × 142 s
# (112 min, in two sessions), stopped while the validation loss was still falling; shipped
# (best at epoch 47) until wide96_e300.
refgc train data/default/train.extxyz.xz data/default/train2.extxyz.xz data/default/train3.extxyz.xz \
    --validation-from data/default/train3.extxyz.xz --validation-fraction 0.2 --references data/default/references.json \
    --test data/default/test.extxyz.xz --out data/default/stage7.npz --checkpoint data/default/stage7.ckpt.npz \
    --init data/default/stage6.npz --energy-weight 300 --learning-rate 5e-5 \
    --ema-decay 0.998 --batch-size 8 --lr-patience 3 --patience 6 --max-epochs 47 --seed 0
# The shipped chain since 2026-11-24 (seventh session): wide96, 96 features from scratch on the
# same data and validation frames (210 s per epoch), then wide96_e300. The first command
# trains 57 epochs and writes their best parameters, the start of wide96_e300; the second
# resumes the same checkpoint to 78 epochs, where wide96 was stopped (not shipped: validation
# 4.83 meV/atom, 0.105 eV/Å; held-out 4.86, 0.109).
refgc train data/default/train.extxyz.xz data/default/train2.extxyz.xz data/default/train3.extxyz.xz \
    --validation-from data/default/train3.extxyz.xz --validation-fraction 0.2 --references data/default/references.json \
    --test data/default/test.extxyz.xz --out data/default/wide96_e57.npz --checkpoint data/default/wide96.ckpt.npz \
    --species Cu O --cutoff 5.0 --features 96 --filters 96 --rbf 20 --interactions 3 \
    --prior-strength 1000 --prior-radius-scale 0.75 --energy-weight 1000 --learning-rate 1e-3 \
    --ema-decay 0.998 --batch-size 8 --lr-patience 3 --patience 8 --max-epochs 57 --seed 0
refgc train data/default/train.extxyz.xz data/default/train2.extxyz.xz data/default/train3.extxyz.xz \
    --validation-from data/default/train3.extxyz.xz --validation-fraction 0.2 --references data/default/references.json \
    --test data/default/test.extxyz.xz --out data/default/wide96_e78.npz --checkpoint data/default/wide96.ckpt.npz \
    --species Cu O --cutoff 5.0 --features 96 --filters 96 --rbf 20 --interactions 3 \
    --prior-strength 1000 --prior-radius-scale 0.75 --energy-weight 1000 --learning-rate 1e-3 \
    --ema-decay 0.998 --batch-size 8 --lr-patience 3 --patience 8 --max-epochs 78 --seed 0
# wide96_e300: wide96's best parameters after 57 epochs (wide96_e57.npz, the first command
# above) fine-tuned with energy weight 300, as stage 7 was, rate
# 1e-4; 33 epochs × 207 s (114 min), best at 32: the shipped model until wide96_2h.
refgc train data/default/train.extxyz.xz data/default/train2.extxyz.xz data/default/train3.extxyz.xz \
    --validation-from data/default/train3.extxyz.xz --validation-fraction 0.2 --references data/default/references.json \
    --test data/default/test.extxyz.xz --out data/default/wide96_e300.npz --checkpoint data/default/wide96_e300.ckpt.npz \
    --init data/default/wide96_e57.npz --energy-weight 300 --learning-rate 1e-4 \
    --ema-decay 0.998 --batch-size 8 --lr-patience 3 --patience 6 --max-epochs 33 --seed 0
# wide96_2h, the shipped model: the recipe for the two-hour budget on both cores (issue 3), one
# run of 90 epochs with energy weight 300 from the start, about 65 s each with --workers 2
# (98 min). The run in data/default/ did its first 25 epochs with the code before filters
# were computed once per unordered pair in training (95 s each; the same results up to
# rounding): 6,732 s (112 min) in all.
refgc train data/default/train.extxyz.xz data/default/train2.extxyz.xz data/default/train3.extxyz.xz \
    --validation-from data/default/train3.extxyz.xz --validation-fraction 0.2 --references data/default/references.json \
    --test data/default/test.extxyz.xz --out data/default/wide96_2h.npz --checkpoint data/default/wide96_2h.ckpt.npz \
    --species Cu O --cutoff 5.0 --features 96 --filters 96 --rbf 20 --interactions 3 \
    --prior-strength 1000 --prior-radius-scale 0.75 --energy-weight 300 --learning-rate 1e-3 \
    --ema-decay 0.998 --batch-size 8 --lr-patience 3 --patience 8 --max-epochs 90 --seed 0 --workers 2
# 4. the shipped model: wide96_2h (no training: --max-epochs 0 only records its metrics and
# provenance), then its accuracy and the ΔG of three relaxed structures against SevenNet-0,
# stored in the file with the verdict on the bar. (Until 2026-11-24 the shipped model was
# wide96_e300, shipped the same way with --init data/default/wide96_e300.npz --learning-rate 1e-4;
# before it stage 7, with --init data/default/stage7.npz --learning-rate 5e-5; before it
# stage 2 with the stiffer prior: --init data/default/stage2.npz --prior-strength 1000
# --prior-radius-scale 0.75 on train.extxyz.xz alone; then stage 5, shipped the same way on
# train and train2.)
refgc train data/default/train.extxyz.xz data/default/train2.extxyz.xz data/default/train3.extxyz.xz \
    --validation-from data/default/train3.extxyz.xz --validation-fraction 0.2 --references data/default/references.json \
    --test data/default/test.extxyz.xz --out refgc/models/default.npz \
    --init data/default/wide96_2h.npz --max-epochs 0 \
    --energy-weight 300 --learning-rate 1e-3 --ema-decay 0.998 --batch-size 8 --seed 0
python scripts/evaluate_default_model.py --store
