"""Can the hops reach the Cu(100) missing row from the c(2×2)-O phase?

    python benchmarks/hops_missing_row.py [--model MODEL] [--dmu -1.5] [--hops 40] [--seeds 0 1 2]

A diagnosis of the Cu(100) search (docs/facets.md): its restarts at Δμ_O = −1.5 eV end with
the missing row built on a new fifth layer, not with the missing row in the template.
Is that the moves' limit or the fractional stage's? This builds the c(2×2)-O and
missing-row phases on the (2√2×2√2)R45° template (``refgc.surface.cu100_o_phases``),
relaxes both with the model at q = 1, and from the c(2×2)-O phase (same O count, no Cu
removed) runs ``refgc.search.hop`` with the top layer removable and room for 8 Cu and 8 O,
once per seed. Prints ΔG (eV per cell) of both phases and of each hop sequence's end, with
the number of top-layer Cu it removed. One core, about 20 s a seed with 40 hops on the default model.
"""

import argparse
from dataclasses import replace

import numpy as np
from ase.constraints import FixAtoms

import refgc
from refgc.grandcanonical import top_layer
from refgc.search import Problem, existence, fixed_mask, gibbs_of, hop, relax
from refgc.surface import cu100_o_phases, cu100_r45_template


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="default", help="model file or shipped name (default: default)")
    ap.add_argument("--dmu", type=float, default=-1.5, help="Δμ_O in eV (Δμ_Cu = 0)")
    ap.add_argument("--hops", type=int, default=40)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = ap.parse_args()
    model = refgc.load_model(args.model)
    slab = cu100_r45_template()
    template, E_t, _ = relax(model, slab)
    fixed = fixed_mask(template)
    n_t = len(template)
    z_top = template.positions[:, 2].max()
    problem = Problem(model=model, template=template, mu={"O": model.mu_ref["O"] + args.dmu, "Cu": model.mu_ref["Cu"]},
                      candidates=("Cu",) * 8 + ("O",) * 8, region=(z_top + 0.8, z_top + 3.5), template_energy=E_t,
                      fixed=fixed, removable=tuple(top_layer(template)), hops=args.hops)

    def relaxed(name):
        """A phase as a search structure: template first, removed atoms at q = 0, then its O."""
        phase = cu100_o_phases(template)[name]
        n_kept = n_t - phase.info["removed"]  # the template atoms it keeps, in template order
        kept = [np.any(np.all(np.isclose(phase.positions[:n_kept], x), axis=1)) for x in template.positions]
        atoms = template + phase[n_kept:]
        atoms.set_array("existence", np.r_[np.array(kept, float), np.ones(len(atoms) - n_t)])
        atoms.set_constraint(FixAtoms(mask=np.r_[fixed, np.zeros(len(atoms) - n_t, bool)]))
        atoms, E, _ = relax(model, atoms)
        return atoms, E

    start, E0 = relaxed("c(2x2)-O")
    row, E_row = relaxed("missing-row")
    print(f"Δμ_O {args.dmu:+.2f} eV, relaxed with the model: c(2x2)-O {gibbs_of(problem, start, E0):+.3f} eV, "
          f"missing row {gibbs_of(problem, row, E_row):+.3f} eV")
    for seed in args.seeds:
        end, E, n = hop(problem, start, E0, np.random.default_rng(seed))
        vacated = int(np.sum(existence(end)[:n_t] == 0))
        print(f"seed {seed}: {args.hops} hops from c(2x2)-O end at {gibbs_of(problem, end, E):+.3f} eV, "
              f"{vacated} top-layer Cu removed, {n} evaluations")


if __name__ == "__main__":
    main()
