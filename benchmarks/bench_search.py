"""refgc's search on the problems of ``bench_agox.py``: best ΔG, composition and calls.

    python benchmarks/bench_search.py --cell c6x2 --dmu -2 -1.5 -1 -0.5 --seeds 0 1 2 \\
        [--restarts 8] [--variant default|published|mixtures] [--record results.jsonl]

The problem is the one AGOX searches in ``bench_agox.py``: refgc's default model, the
Cu(110) c(6×2) template or the 2×2 cell (bottom 2 of 4 layers fixed), Δμ_O = ``--dmu``
(Δμ_Cu = 0), refgc's default candidates and region. Each seed is one ``refgc.optimize``
with ``--restarts`` restarts, run in this process on one thread. Calls are the model
evaluations of all restarts (the template relaxation, as in ``bench_agox.py``, is not
counted); each evaluation is one energy + gradient call, as one AGOX call is one energy +
forces call.

``--variant``: ``default`` (refgc as shipped: the polish and the hops on, mixtures off),
``published`` (the method as published: every restart inserts every candidate, no polish,
no hops), ``polish`` (the polish, no hops), ``mixtures`` (the default and per-restart
candidate mixtures). The best is taken over the restarts and the template itself (ΔG = 0);
``calls_to_best`` counts the calls of the restarts, in order, up to the first that found it. Prints one line per run and appends a JSON row to ``--record``.
"""

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "RAYON_NUM_THREADS"):
    os.environ[var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import refgc  # noqa: E402
from bench_agox import CELLS, model_tag  # noqa: E402  (the same slabs and model tags as the peer searches)
from refgc.parallel import SerialExecutor  # noqa: E402
from refgc.search import Problem  # noqa: E402
VARIANTS = {"default": {}, "published": dict(mixtures=False, polish=False, hops=0), "polish": dict(hops=0),
            "mixtures": dict(mixtures=True)}


def text(composition):
    return " ".join(f"{s}{n}" for s, n in composition.items() if n) or "bare"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cell", choices=sorted(CELLS), default="c6x2")
    p.add_argument("--dmu", type=float, nargs="+", default=[-2.0, -1.5, -1.0, -0.5])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--restarts", type=int, default=8)
    p.add_argument("--variant", choices=sorted(VARIANTS), default="default")
    p.add_argument("--hops", type=int, help="hops per restart (default: the variant's)")
    p.add_argument("--record", help="a JSON-lines file to append the result rows to")
    args = p.parse_args()
    model = refgc.load_model()
    for dmu in args.dmu:
        for seed in args.seeds:
            t0 = time.perf_counter()
            options = {**VARIANTS[args.variant], **({"hops": args.hops} if args.hops is not None else {})}
            result = refgc.optimize(CELLS[args.cell](), {"O": dmu, "Cu": 0.0}, model=model, restarts=args.restarts,
                                    seed=seed, executor=SerialExecutor(), progress=False, **options)
            seconds = time.perf_counter() - t0
            by_restart = sorted(result.runs, key=lambda r: r.restart)
            calls = sum(r.n_evaluations for r in by_restart)
            # the calls made until the best was first found, restarts taken in order (0 if it is the template)
            cumulative = np.cumsum([r.n_evaluations for r in by_restart])
            first = next((k for k, r in enumerate(by_restart) if r.gibbs <= result.gibbs + 1e-3), None)
            to_best = 0 if first is None else int(cumulative[first])
            row = {"code": f"refgc-{refgc.__version__}", "model": model_tag(model), "variant": args.variant, "cell": args.cell, "dmu_O": dmu,
                   "seed": seed, "restarts": args.restarts, "hops": options.get("hops", Problem.hops),
                   "best_dG": result.gibbs, "added": result.composition, "best_is_template": result.best_run.restart < 0, "total_calls": calls,
                   "calls_to_best": to_best, "seconds": round(seconds, 1),
                   "runs": [[r.gibbs, r.composition, r.n_evaluations] for r in by_restart]}
            print(f"{args.variant:9s} {args.cell} Δμ_O {dmu:+.2f} seed {seed}: best {result.gibbs:+.3f} eV "
                  f"{text(result.composition):8s} {calls:6d} calls {seconds:5.0f} s | "
                  + ", ".join(f"{r.gibbs:+.2f} {text(r.composition)}" for r in by_restart), flush=True)
            if args.record:
                with open(args.record, "a") as f:
                    f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
