"""Batched evaluation and restarts in lockstep on the CPU: what each buys on one core.

    python benchmarks/bench_batch.py [--batches 1 8 64] [--restarts 4] [--seed 0] [--skip-search]

1. E + ∂E/∂x + ∂E/∂q of R structures of the main job's size (the c(6×2) template and 16
   candidates at random existences, 40 atoms, the shipped model), one call each against
   one batched call (:func:`refgc.batch.evaluate_batch`): ms per structure, the minimum of
   a few repeats, and the largest difference between the two.
2. The main job's search (``refgc optimize --mu O=-1.0 --mu Cu=0 --seed SEED``) with
   ``--restarts`` restarts in this process: one after another (``--serial``), in lockstep
   answered one by one (``--lockstep``, the NumPy default), and in lockstep with one
   batched call per step (``--lockstep batched``): wall seconds, evaluations, and each
   restart's ΔG and evaluations against the serial run.

One thread (OMP_NUM_THREADS=1 is set before NumPy loads), so that the numbers are per core.
"""

import argparse
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def best_time(fn, repeats=5):
    fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def structures(n, seed=0):
    import numpy as np
    from ase import Atoms

    from refgc.surface import cu110_c6x2_template, top_layer_z

    rng = np.random.default_rng(seed)
    slab = cu110_c6x2_template()
    out = []
    for _ in range(n):
        top = top_layer_z(slab)
        points = rng.uniform(0, 1, (16, 2)) @ slab.cell[:2, :2]
        z = rng.uniform(top + 0.8, top + 3.5, (16, 1))
        atoms = slab + Atoms("Cu8O8", positions=np.c_[points, z])
        out.append((atoms, np.r_[np.ones(len(slab)), rng.uniform(0.5, 1.0, 16)]))
    return out


def batch_table(sizes):
    import numpy as np

    import refgc
    from refgc.batch import evaluate_batch
    from refgc.graph import build_graph
    from refgc.system import system_from_atoms

    model = refgc.load_model()
    print("# E + dE/dx + dE/dq of the main job's structures (40 atoms, shipped model), one core")
    print(f"{'structures':>10} {'one by one ms/structure':>23} {'batched ms/structure':>20} {'speed-up':>8} {'max |Δ|':>8}")
    for n in sizes:
        requests = []
        for atoms, q in structures(n):
            s = system_from_atoms(model.species, atoms, q)
            requests.append((s.species, s.positions, s.q, build_graph(s.positions, s.cell, s.pbc, model.cutoff + 0.5)))
        alone = best_time(lambda: [model.evaluate(*r) for r in requests])
        batched = best_time(lambda: evaluate_batch(model, requests))
        a, b = [model.evaluate(*r) for r in requests], evaluate_batch(model, requests)
        diff = max(max(abs(x[0] - y[0]), np.abs(x[1] - y[1]).max(), np.abs(x[2] - y[2]).max()) for x, y in zip(a, b))
        print(f"{n:10d} {1e3 * alone / n:23.2f} {1e3 * batched / n:20.2f} {alone / batched:8.2f} {diff:8.1e}", flush=True)


def search_table(restarts, seed):
    import refgc
    from refgc.parallel import SerialExecutor
    from refgc.surface import cu110_c6x2_template

    slab, mu = cu110_c6x2_template(), {"O": -1.0, "Cu": 0.0}
    print(f"# refgc optimize --mu O=-1.0 --mu Cu=0 --seed {seed} --restarts {restarts}, in this process, one core")
    results = {}
    for name, options in [("serial", {"executor": SerialExecutor()}), ("lockstep", {"lockstep": True}),
                          ("lockstep batched", {"lockstep": "batched"})]:
        t0 = time.perf_counter()
        result = refgc.optimize(slab, mu, restarts=restarts, seed=seed, progress=False, **options)
        seconds = time.perf_counter() - t0
        runs = {r.restart: r for r in result.runs}
        results[name] = runs
        base = results["serial"]
        differ = [k for k in runs if (runs[k].n_evaluations, runs[k].gibbs) != (base[k].n_evaluations, base[k].gibbs)]
        dG = max(abs(runs[k].gibbs - base[k].gibbs) for k in runs)
        print(f"{name:>17}: {seconds:6.1f} s, {sum(r.n_evaluations for r in runs.values())} evaluations, "
              f"best ΔG {result.gibbs:.6f} eV; restarts unlike the serial run: {len(differ)} of {restarts} "
              f"(largest |ΔG difference| {dG:.2e} eV)", flush=True)
        for k in sorted(runs):
            print(f"{'':>19}restart {k}: ΔG {runs[k].gibbs:+.9f} eV, {runs[k].n_evaluations} evaluations")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--restarts", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-search", action="store_true")
    args = parser.parse_args()
    print(f"# {sys.executable} {' '.join(sys.argv)}")
    batch_table(args.batches)
    if not args.skip_search:
        search_table(args.restarts, args.seed)


if __name__ == "__main__":
    main()
