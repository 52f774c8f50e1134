"""One round of active learning for the default model: label what the optimizer visits.

    python scripts/active_learning.py [--model refgc/models/default.npz] [--dmu -2 -1.5 -1 -0.5 0]
        [--restarts 8] [--snapshots 2] [--out data/default/active.extxyz] [--workers 1]
        [--test-restarts 2 --test-out data/default/active_test.extxyz]

Runs ``refgc.optimize`` on the Cu(110) c(6×2) template at each Δμ_O (Δμ_Cu = 0, Cu and O
candidates), takes the structures the restarts end in and a few discretised snapshots of
their fractional stage (``refgc.datagen.frames_from_runs``), labels them with SevenNet-0
(appending to ``--out``, skipping frames already labelled, so it resumes) and writes
``--out.xz``. The same is done with ``--test-restarts`` restarts from another seed into
``--test-out``: structures of the same kind that are never trained on, to measure how well
a model knows what the optimizer visits. Restarts run serially (one core), so a training
job can use the other. Then retrain on the old and the new data with one command (printed at the end)
and keep the new model if its held-out accuracy is no worse. Needs the ``label`` extra.
"""

import argparse
import os

import refgc
from refgc import datagen
from refgc.parallel import SerialExecutor
from refgc.surface import cu110_c6x2_template
from make_default_data import sevennet_factory  # scripts/: the labeller of the training data


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="model file (default: the shipped model)")
    ap.add_argument("--dmu", type=float, nargs="+", default=[-2.0, -1.5, -1.0, -0.5, 0.0])
    ap.add_argument("--restarts", type=int, default=8)
    ap.add_argument("--snapshots", type=int, default=2)
    ap.add_argument("--seed", type=int, default=100)
    ap.add_argument("--out", default="data/default/active.extxyz")
    ap.add_argument("--runs", default="data/default/active_runs", help="folder for the optimizer's results")
    ap.add_argument("--tag", default="al", help="prefix of the frame ids; one per round, so rounds never clash")
    ap.add_argument("--prior-strength", type=float, help="run the optimizer with this prior strength A (eV) instead")
    ap.add_argument("--prior-radius-scale", type=float, help="and/or this prior radius scale")
    ap.add_argument("--workers", type=int, default=1, help="labelling processes")
    ap.add_argument("--test-restarts", type=int, default=2, help="restarts per Δμ for the held-out set (0: none)")
    ap.add_argument("--test-seed", type=int, default=101)
    ap.add_argument("--test-out", default="data/default/active_test.extxyz")
    args = ap.parse_args(argv)
    model = refgc.load_model(args.model)
    model = model.with_prior(args.prior_strength, args.prior_radius_scale)
    template = cu110_c6x2_template()
    jobs = [(args.restarts, args.seed, args.out, args.tag)]
    if args.test_restarts:
        jobs.append((args.test_restarts, args.test_seed, args.test_out, args.tag + "_test"))
    for restarts, seed, out, tag in jobs:
        frames = []
        for dmu in args.dmu:
            result = refgc.optimize(template, {"O": dmu, "Cu": 0.0}, model=model, restarts=restarts, seed=seed,
                                    executor=SerialExecutor(),
                                    output=os.path.join(args.runs, f"{tag}_seed{seed}_dmu_O_{dmu:+.2f}"))
            frames += datagen.frames_from_runs(result.runs, args.snapshots, tag=f"{tag}/dmu{dmu:+.2f}")
        stats = datagen.label(frames, sevennet_factory, out, workers=args.workers)
        print(f"labelled {stats['frames']} new frames into {out}; {datagen.compress_xz(out)}")
    print("retrain with:\n  refgc train data/default/train.extxyz.xz " + args.out + ".xz --test data/default/test.extxyz.xz "
          "--references data/default/references.json --out MODEL.npz (the options of scripts/make_default_model.sh)")


if __name__ == "__main__":
    main()
