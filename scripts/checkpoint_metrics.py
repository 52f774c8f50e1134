"""Errors of a training checkpoint's best parameters, while its run is still going.

    python scripts/checkpoint_metrics.py data/default/stage7.ckpt.npz [--like refgc/models/default.npz]
        [--validation-from data/default/train3.extxyz.xz --validation-fraction 0.2 --seed 0]
        [--test data/default/test.extxyz.xz]

Reads only the checkpoint (``refgc train`` replaces it atomically, so a running job is not
disturbed) and prints the energy MAE (meV/atom) and force MAE (eV/Å) of its ``best/``
parameters on the validation frames that run uses (the same ``split`` of
``--validation-from``) and on the held-out test frames. The checkpoint stores parameters
but not the model configuration: that comes from the ``--like`` model file, with the
widths (features, filters, radial functions, interactions) read off the parameter shapes.
"""

import argparse
import dataclasses
import json

import numpy as np

import refgc
from refgc.model import Model
from refgc.data import read_frames, split
from refgc.training import metrics


def load_best(path, like):
    with np.load(path, allow_pickle=False) as npz:
        state = json.loads(str(npz["state"]))
        best = {k[len("best/"):]: npz[k] for k in npz.files if k.startswith("best/")}
    if not best:
        raise ValueError(f"{path}: no best/ parameters; is this a refgc train checkpoint?")
    config = dataclasses.replace(
        like.config,
        n_features=best["embedding"].shape[1],
        n_filters=best["interactions.0.filter.0.bias"].shape[0],
        n_rbf=best["interactions.0.filter.0.weight"].shape[0],
        n_interactions=len({k.split(".")[1] for k in best if k.startswith("interactions.")}),
    )
    return Model(config, best, like.mu_ref, {}), state


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoint")
    p.add_argument("--like", default=None, help="model file giving the configuration (default: the shipped model)")
    p.add_argument("--validation-from", default="data/default/train3.extxyz.xz")
    p.add_argument("--validation-fraction", type=float, default=0.2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--test", default="data/default/test.extxyz.xz")
    args = p.parse_args(argv)

    model, state = load_best(args.checkpoint, refgc.load_model(args.like))
    best_epoch = min(state["history"], key=lambda h: h["val_loss"])["epoch"]
    print(f"{args.checkpoint}: epoch {state['epoch']}, best {best_epoch} (validation loss "
          f"{state['best_loss']:.4f}), learning rate {state['lr']:g}")
    pool = read_frames(args.validation_from)
    _, val = split(pool, args.validation_fraction, args.seed)
    for name, frames in (("validation", [pool[k] for k in val]), ("test", read_frames(args.test))):
        r = metrics(model, frames)
        print(f"  {name:10s} {r['n_frames']:4d} frames: energy {1000 * r['energy_mae_per_atom']:.2f} meV/atom, "
              f"forces {r['force_mae']:.4f} eV/Å")


if __name__ == "__main__":
    main()
