"""The cost of one training step: the loss, its gradient, both in one pass, the pair layout,
and workers.

    python benchmarks/bench_training_step.py [DATA.extxyz[.xz]] [--model MODEL.npz]
        [--frames 64] [--batch-size 8] [--repeats 3] [--workers 1 2]

Prints ms per batch, one thread, the minimum over ``--repeats`` passes over the same
batches, of ``loss`` then ``grad(loss)`` (two passes) against ``value_and_grad(loss)`` (one
pass, what the trainer does), and their ratio. Then the step with a filter per ordered pair
(a plain pair list) against one per unordered pair (the half/reversed layout the batches
keep). Then one epoch of ``train`` (fine-tuning the
model on the same frames at a tiny rate, one validation frame) with each ``--workers``
count, the minimum of ``--repeats`` epochs, and the speed-up over the first count: with
more than one worker each process has one thread, so that row uses that many cores. The
defaults: the shipped model and the held-out frames of the default data.
"""

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from autograd import grad, value_and_grad  # noqa: E402

import refgc  # noqa: E402
from refgc import data as D  # noqa: E402
from refgc import training as T  # noqa: E402
from refgc.graph import Graph  # noqa: E402


def best_time(fn, batches, repeats):
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        for batch in batches:
            fn(batch)
        best = min(best, time.perf_counter() - t0)
    return best / len(batches)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", nargs="?", default="data/default/test.extxyz.xz")
    ap.add_argument("--model", default=None, help="model file (default: the shipped model)")
    ap.add_argument("--frames", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args()

    model = refgc.load_model(args.model) if args.model else refgc.load_model()
    raw = D.read_frames(args.data)[: args.frames + 1]  # the last one validates the epochs below
    frames = D.prepare(raw[: args.frames], model.config)
    batches = [D.collate(frames[k : k + args.batch_size]) for k in range(0, len(frames), args.batch_size)]
    settings = T.TrainSettings(energy_weight=300.0)
    p, c = model.params, model.config
    g, vg = grad(T.loss), value_and_grad(T.loss)

    t_loss = best_time(lambda b: float(T.loss(p, c, b, settings)), batches, args.repeats)
    t_grad = best_time(lambda b: g(p, c, b, settings), batches, args.repeats)
    t_both = best_time(lambda b: vg(p, c, b, settings), batches, args.repeats)
    value, gradient = vg(p, c, batches[0], settings)
    same = value == T.loss(p, c, batches[0], settings) and all(
        np.array_equal(gradient[k], v) for k, v in g(p, c, batches[0], settings).items())

    print(f"# {model.config.n_features} features, {len(batches)} batches of {args.batch_size} frames "
          f"({args.data}), one thread, min of {args.repeats}; value_and_grad identical to loss, grad: {same}")
    print(f"{'loss ms':>8} {'grad ms':>8} {'loss, then grad ms':>19} {'value_and_grad ms':>18} {'old / new':>10}")
    print(f"{1e3 * t_loss:8.0f} {1e3 * t_grad:8.0f} {1e3 * (t_loss + t_grad):19.0f} {1e3 * t_both:18.0f} "
          f"{(t_loss + t_grad) / t_both:10.2f}")

    # A batch keeps the half/reversed pair layout, and the
    # filters, functions of the distance alone, are computed once per unordered pair.
    plain = [D.Batch(**{**b.__dict__, "graph": Graph.from_pairs(b.graph.i, b.graph.j, b.graph.offsets,
                                                                len(b.species))}) for b in batches]
    t_plain = best_time(lambda b: vg(p, c, b, settings), plain, args.repeats)
    g_plain = vg(p, c, plain[0], settings)[1]  # against `gradient`, batches[0]'s above
    deviation = max(np.abs(gradient[k] - g_plain[k]).max() / np.abs(g_plain[k]).max() for k in g_plain)
    print(f"\n# value_and_grad with filters per ordered pair (a plain pair list) and per unordered pair "
          f"(the half layout); largest gradient difference {deviation:.1e} of each parameter's largest entry")
    print(f"{'ordered ms':>11} {'unordered ms':>13} {'speed-up':>9}")
    print(f"{1e3 * t_plain:11.0f} {1e3 * t_both:13.0f} {t_plain / t_both:9.2f}")

    print(f"\n# one epoch of train on {len(raw) - 1} frames, batches of {args.batch_size}, min of {args.repeats}")
    print(f"{'workers':>7} {'s / epoch':>10} {'speed-up':>9}")
    first = None
    for workers in args.workers:
        settings = T.TrainSettings(max_epochs=1, batch_size=args.batch_size, energy_weight=300.0,
                                   learning_rate=1e-9, workers=workers)
        seconds = min(T.train(raw[:-1], model.config, settings=settings, validation=raw[-1:], init=model,
                              log=None).provenance["training"]["seconds_total"] for _ in range(args.repeats))
        first = first or seconds
        print(f"{workers:7d} {seconds:10.2f} {first / seconds:9.2f}")


if __name__ == "__main__":
    main()
