"""Adam (mini-batches) against full-batch L-BFGS for training, at equal wall-clock time.

    python benchmarks/bench_training.py DATA.extxyz[.xz] [--frames 400] [--seconds 300]

Both start from the same initial model (least-squares offsets, RMS-force scale) and the
same train/validation split by trajectory; each gets ``--seconds`` of one thread. Prints
the validation loss and errors at a few checkpoints in time, so the faster optimizer for
this data and model size can be read off.
"""

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from autograd import grad  # noqa: E402
from autograd.misc import flatten  # noqa: E402
from scipy.optimize import minimize  # noqa: E402

import refgc  # noqa: E402
from refgc import data as D  # noqa: E402
from refgc import training as T  # noqa: E402


def initial_params(config, train_set, seed=0):
    params = dict(refgc.init_model(config, seed=seed).params)
    params["offset"] = T.fit_offsets(train_set, len(config.species))
    rms = float(np.sqrt(np.mean(np.concatenate([f.forces.ravel() for f in train_set]) ** 2)))
    params["scale"] = np.full(len(config.species), rms)
    return params


def evaluate(params, config, val_set, settings):
    model = refgc.Model(config, params)
    m = T.metrics(model, val_set)
    batches = [D.collate(val_set[k : k + 16]) for k in range(0, len(val_set), 16)]
    loss = sum(float(T.loss(params, config, b, settings)) * len(b.n_atoms) for b in batches) / len(val_set)
    return loss, m


def run_adam(params, config, train_set, val_set, settings, seconds, checkpoints):
    params, adam = dict(params), T.Adam(params)
    g = grad(T.loss)
    t0, epoch, out = time.perf_counter(), 0, []
    while time.perf_counter() - t0 < seconds:
        order = np.random.default_rng([0, epoch]).permutation(len(train_set))
        for k in range(0, len(order), settings.batch_size):
            batch = D.collate([train_set[m] for m in order[k : k + settings.batch_size]])
            adam.step(params, g(params, config, batch, settings), settings.learning_rate)
            if checkpoints and time.perf_counter() - t0 >= checkpoints[0]:
                out.append((checkpoints.pop(0), evaluate(params, config, val_set, settings)))
            if time.perf_counter() - t0 >= seconds:
                break
        epoch += 1
    return out + [(seconds, evaluate(params, config, val_set, settings))]


def run_lbfgs(params, config, train_set, val_set, settings, seconds, checkpoints):
    flat, unflatten = flatten(params)
    batches = [D.collate(train_set[k : k + 32]) for k in range(0, len(train_set), 32)]
    value_and_grad = lambda p, b: (T.loss(p, config, b, settings), grad(T.loss)(p, config, b, settings))  # noqa: E731
    t0, out, current = time.perf_counter(), [], [flat]

    class OutOfTime(Exception):
        pass

    def f(x):
        if time.perf_counter() - t0 >= seconds:
            raise OutOfTime
        p = unflatten(x)
        total, g_total = 0.0, np.zeros_like(x)
        for b in batches:
            value, g = value_and_grad(p, b)
            total += float(value) * len(b.n_atoms)
            g_total += flatten(g)[0] * len(b.n_atoms)
        current[0] = x
        while checkpoints and time.perf_counter() - t0 >= checkpoints[0]:
            out.append((checkpoints.pop(0), evaluate(p, config, val_set, settings)))
        return total / len(train_set), g_total / len(train_set)

    try:
        minimize(f, flat, jac=True, method="L-BFGS-B", options=dict(maxiter=10**6, maxcor=20))
    except OutOfTime:
        pass
    return out + [(seconds, evaluate(unflatten(current[0]), config, val_set, settings))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data")
    ap.add_argument("--frames", type=int, default=400)
    ap.add_argument("--seconds", type=float, default=300)
    ap.add_argument("--cutoff", type=float, default=5.0)
    ap.add_argument("--features", type=int, default=64)
    args = ap.parse_args()
    frames = refgc.read_frames(args.data)
    frames = [frames[k] for k in np.random.default_rng(0).permutation(len(frames))[: args.frames]]
    train_idx, val_idx = D.split(frames, 0.15, seed=0)
    config = refgc.ModelConfig(species=("Cu", "O"), cutoff=args.cutoff, n_features=args.features, n_filters=args.features)
    train_set, val_set = D.prepare([frames[k] for k in train_idx], config), D.prepare([frames[k] for k in val_idx], config)
    settings = T.TrainSettings()
    params = initial_params(config, train_set)
    checkpoints = [args.seconds * f for f in (0.25, 0.5, 0.75)]
    print(f"# {len(train_set)} training / {len(val_set)} validation frames, r_c {args.cutoff} Å, {args.features} features, "
          f"{args.seconds:.0f} s each, one thread")
    print(f"{'optimizer':>10} {'seconds':>8} {'val loss':>10} {'E MAE meV/atom':>15} {'F MAE eV/Å':>11}")
    for name, run in (("Adam", run_adam), ("L-BFGS", run_lbfgs)):
        for t, (loss, m) in run(params, config, train_set, val_set, settings, args.seconds, list(checkpoints)):
            print(f"{name:>10} {t:8.0f} {loss:10.4f} {1e3 * m['energy_mae_per_atom']:15.2f} {m['force_mae']:11.3f}")


if __name__ == "__main__":
    main()
