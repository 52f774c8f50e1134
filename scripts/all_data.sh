# Sourced by scripts/train_all_data.sh and its later stages (refine_all_data.sh,
# stiffen_all_data.sh): every SevenNet-0 label refgc has, the validation and test frames,
# and the settings the stages share. The optimizer's labelled visits (earlier models'
# active-learning rounds, the learn rounds and the three-facet model's validation runs)
# count twice. Frames with a force component above 50 eV/Å are left out (42 of the earlier
# models' visits, collapsed structures with forces up to 2,000 eV/Å, and 8 of the data
# plans' frames, rattled and squeezed ones up to 83 eV/Å): kept, they dominate the force loss.
D=data/default; L=data/default/learn; F=data/facets
V="$D/active.extxyz.xz $L/round-0/visits.extxyz $L/round-1/visits.extxyz $L/consolidated-visits.extxyz.xz $F/visits.extxyz.xz"
CU110="$D/train.extxyz.xz $D/train2.extxyz.xz $D/train3.extxyz.xz"  # the three Cu(110) data plans
FRAMES="$CU110 $F/cu100.extxyz.xz $F/cu111.extxyz.xz $V $V"
SHARED="--validation-from $D/train3.extxyz.xz $F/cu100.extxyz.xz $F/cu111.extxyz.xz --validation-fraction 0.2
  --references $D/references.json --test $D/test.extxyz.xz --max-force 50 --batch-size 8 --lr-factor 0.5
  --ema-decay 0.998 --workers 2"
# The learn rounds on the 4-block model (scripts/deepen_all_data.sh) and on its shipped-loss
# fine-tune (scripts/shipped_loss_all_data.sh): their labelled visits, counted twice by the
# stages after them, as by `refgc learn --weight 2`.
DEEP="$D/learn-deep/round-0/visits.extxyz $D/learn-deep/round-1/visits.extxyz"
LEARNT_F="$DEEP $D/learn-f/round-0/visits.extxyz"
