"""Accuracy of the default model against its labeller (SevenNet-0), on data never trained on.

    python scripts/evaluate_default_model.py [--model refgc/models/default.npz]
        [--test data/default/test.extxyz.xz] [--out data/default/evaluation.json] [--store]

1. Energy and force errors on the held-out frames.
2. ΔG of three structures on the Cu(110) c(6×2) template: the bare template, a (2×1)-like
   added row (Cu₂O₂) and a c(6×2)-like oxide (Cu₅O₄), each relaxed with the model *and*
   with the labeller (BFGS, fmax 0.03 eV/Å, bottom layers fixed), each ΔG computed with its
   own method's relaxed template energy and the labeller's references μ_ref (stored in the
   model): ΔG = E − E_slab − Σ μ_Z^ref at Δμ = 0. Reported per cell and per atom.

``--store`` writes the results into the model's provenance. Needs the ``label`` extra.
"""

import argparse
import json
import time

import numpy as np
from ase.optimize import BFGS

import refgc
from refgc.surface import cu110_added_rows, cu110_c6x2_oxide, cu110_c6x2_template
from refgc.training import metrics, read_frames


def relaxed_energy(atoms, calc, fmax=0.03, steps=400):
    atoms = atoms.copy()
    atoms.calc = calc
    BFGS(atoms, logfile=None).run(fmax=fmax, steps=steps)
    return atoms.get_potential_energy(), atoms


def gibbs(E, E_slab, added, mu_ref):
    return E - E_slab - sum(n * mu_ref[s] for s, n in added.items())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(refgc.modelfile.DEFAULT_MODEL))
    ap.add_argument("--test", default="data/default/test.extxyz.xz")
    ap.add_argument("--out", default="data/default/evaluation.json")
    ap.add_argument("--store", action="store_true", help="store the results in the model's provenance")
    args = ap.parse_args(argv)

    import torch
    from sevenn.calculator import SevenNetCalculator

    torch.set_num_threads(1)
    model = refgc.load_model(args.model)
    test = read_frames(args.test)
    t0 = time.perf_counter()
    held_out = metrics(model, test)
    print(f"held-out test set ({held_out['n_frames']} frames): energy MAE {1e3 * held_out['energy_mae_per_atom']:.2f} "
          f"meV/atom, force MAE {held_out['force_mae']:.3f} eV/Å ({time.perf_counter() - t0:.0f} s)")

    labeller = SevenNetCalculator("7net-0", device="cpu")
    template = cu110_c6x2_template()
    n_t = len(template)
    methods = {"model": refgc.Calculator(model), "labeller": labeller}
    E_slab = {name: relaxed_energy(template, calc)[0] for name, calc in methods.items()}
    rows = []
    for name, build in [("bare template", lambda t: t), ("(2x1)-like added row Cu2O2", cu110_added_rows),
                        ("c(6x2)-like oxide Cu5O4", cu110_c6x2_oxide)]:
        start = build(template)
        added = {s: start.get_chemical_symbols()[n_t:].count(s) for s in ("Cu", "O")}
        dG = {}
        for method, calc in methods.items():
            E = E_slab[method] if name == "bare template" else relaxed_energy(start, calc)[0]
            dG[method] = gibbs(E, E_slab[method], added, model.mu_ref)
        err = dG["model"] - dG["labeller"]
        rows.append(dict(structure=name, n_atoms=len(start), added=added, dG_model=dG["model"],
                         dG_labeller=dG["labeller"], error=err, error_per_atom=err / len(start)))
    rows.append(dict(structure="relaxed bare template energy", n_atoms=n_t, E_model=E_slab["model"],
                     E_labeller=E_slab["labeller"], error=E_slab["model"] - E_slab["labeller"],
                     error_per_atom=(E_slab["model"] - E_slab["labeller"]) / n_t))

    print("\n| structure | atoms | ΔG model (eV) | ΔG SevenNet-0 (eV) | error (eV) | error (meV/atom) |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows[:-1]:
        print(f"| {r['structure']} | {r['n_atoms']} | {r['dG_model']:.3f} | {r['dG_labeller']:.3f} | "
              f"{r['error']:+.3f} | {1e3 * r['error_per_atom']:+.1f} |")
    r = rows[-1]
    print(f"\nrelaxed bare template: E model {r['E_model']:.3f} eV, SevenNet-0 {r['E_labeller']:.3f} eV "
          f"({1e3 * r['error_per_atom']:+.1f} meV/atom)")
    result = {"held_out": held_out, "gibbs": rows, "test_file": args.test, "model": args.model}
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    if args.store:
        model.provenance["evaluation"] = result
        refgc.save_model(model, args.model)
        print(f"stored in {args.model}")


if __name__ == "__main__":
    main()
