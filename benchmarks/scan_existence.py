"""Scan the fractional stage's start and step: initial existences and κ (L-BFGS-B on κ·q).

    python benchmarks/scan_existence.py [--model MODEL.npz] [--dmu -1.5 -1 -0.5] [--restarts 8]
        [--grid "0 1 1" "0 1 10" "0.5 1 10" ...]          (each: LOW HIGH KAPPA)

For each setting and Δμ_O (Δμ_Cu = 0), ``--restarts`` restarts from the same seed, so the
same insertions, on the c(6×2) template with the default candidates; prints the best and
median ΔG and the mean evaluations per restart. One thread. Its conclusion is in docs/method.md.
"""

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import argparse  # noqa: E402

import numpy as np  # noqa: E402

import refgc  # noqa: E402
from refgc.parallel import SerialExecutor  # noqa: E402
from refgc.surface import cu110_c6x2_template  # noqa: E402

GRID = ["0 1 1", "0 1 0.3", "0 1 3", "0 1 10", "0 1 30", "0.5 1 3", "0.5 1 10", "1 1 0.3", "1 1 1", "1 1 3", "1 1 10"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="model file (default: the shipped model)")
    ap.add_argument("--dmu", type=float, nargs="+", default=[-1.5, -1.0, -0.5])
    ap.add_argument("--restarts", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--grid", nargs="+", default=GRID, help='settings "LOW HIGH KAPPA"')
    args = ap.parse_args()
    model, slab = refgc.load_model(args.model), cu110_c6x2_template()
    print(f"# best / median ΔG (eV) of {args.restarts} restarts, seed {args.seed}; evaluations per restart")
    print(f"{'initial q':>10} {'κ':>5} " + "".join(f"{f'Δμ_O {d:+.1f}':>17}" for d in args.dmu) + "  evaluations")
    for setting in args.grid:
        low, high, kappa = (float(v) for v in setting.split())
        cells, evaluations = [], []
        for dmu in args.dmu:
            result = refgc.optimize(slab, {"O": dmu, "Cu": 0.0}, model=model, restarts=args.restarts, seed=args.seed,
                                    executor=SerialExecutor(), progress=False, existence=(low, high),
                                    existence_scale=kappa)
            gibbs = [r.gibbs for r in result.runs]
            cells.append(f"{min(gibbs):8.2f} /{np.median(gibbs):6.2f}")
            evaluations.append(np.mean([r.n_evaluations for r in result.runs]))
        print(f"{f'U({low:g}, {high:g})':>10} {kappa:5g} " + "".join(f"{c:>17}" for c in cells)
              + f"  {min(evaluations):.0f}-{max(evaluations):.0f}", flush=True)


if __name__ == "__main__":
    main()
