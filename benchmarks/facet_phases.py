"""The reference phases of O on Cu(100) or Cu(111) with a labeller: which is stable where?

    python benchmarks/facet_phases.py [--facet 100|111] [--labeller sevenn:7net-0] [--fmax 0.01]
        [--steps 500] [--a 3.612] [--layers 4] [--dmu -3 0] [--out FACET_phases.json]

``--facet 100`` (the default) builds the (2√2×2√2)R45° Cu(100) template (4 layers, the
bottom 2 fixed) and the clean, p(2×2)-O, c(2×2)-O and missing-row phases on it
(:func:`refgc.surface.cu100_o_phases`); ``--facet 111`` the (3×3) Cu(111) slab and the clean,
p(3×3)-O (fcc and hcp hollow) and (√3×√3)R30°-O phases (:func:`refgc.surface.cu111_o_phases`).
It relaxes the template and each phase with the labeller (ASE's BFGS to ``--fmax``, the fixed
layers kept), and ranks them with the labeller's own references (½E(O₂), E(bulk Cu)/atom):

    ΔG(Δμ_O) = E_phase − E_template − n_O (μ_O^ref + Δμ_O) + n_removed μ_Cu^ref,

the removed Cu going to bulk Cu (Δμ_Cu = 0), as ``refgc validate`` counts removed template
atoms (:func:`refgc.gibbs.structure_free_energy`). Prints each phase's n_O, Cu removed, ΔG
at Δμ_O = 0 (eV per cell and meV/Å²) and its slope −n_O, then the lower envelope of the
lines on ``--dmu LO HI``: the range of Δμ_O where each phase is the lowest of the four.

``--layers 5`` builds everything on one more layer (the bottom 2 still fixed) and also
prints the extra layer's own ΔG against the 4-layer template, E₅ − E₄ − n_Cu μ_Cu^ref: a
search that builds a phase as a new layer on the 4-layer template (``refgc optimize`` adds
atoms there) finds it at that ΔG plus the phase's on 5 layers.

Energies go to ``--out`` (JSON) after each relaxation, under the labeller, ``--fmax``,
``--steps`` and ``--a``: a rerun with the same ones skips what is there. Each relaxed
structure's positions are kept too, in the order of the phase builder. SevenNet-0 needs
``refgc[label]``; ``--labeller emt`` runs in seconds (EMT's O is a toy).
"""

import argparse
import json
from pathlib import Path

import numpy as np

from refgc.gibbs import structure_free_energy
from refgc.labeller import labeller, references, relax_with
from refgc.phasediagram import PhaseDiagram
from refgc.results import GCResult, Run, write_json
from refgc.surface import cu100_o_phases, cu100_r45_template, cu111_o_phases, cu111_slab, surface_area

#: facet: (its cell's name, template builder of the lattice constant, phase builder)
FACETS = {"100": ("(2√2×2√2)R45° Cu(100)", lambda a, n: cu100_r45_template(a=a, layers=n), cu100_o_phases),
          "111": ("(3×3) Cu(111)", lambda a, n: cu111_slab((3, 3), a=a, layers=n), cu111_o_phases)}


def compute(spec, fmax, steps, a, out, facet="100", layers=4):
    """The labeller's energies of the template and the phases, from ``out`` where it has them;
    with ``layers`` ≠ 4 also the 4-layer template's (``"template_4"``)."""
    document = json.loads(out.read_text()) if out.exists() else {}
    key = f"Cu({facet}) {spec} fmax={fmax:g} steps={steps} a={a:g}" + (f" layers={layers}" if layers != 4 else "")
    state = document.setdefault(key, dict(facet=facet, labeller=spec, fmax=fmax, steps=steps, a=a, layers=layers, phases={}))
    _, build, phases = FACETS[facet]
    template = build(a, layers)
    calc = None
    extra = {"template_4": build(a, 4)} if layers != 4 else {}
    for name, atoms in {"template": template, **extra, **phases(template)}.items():
        if name in ("template", "template_4") and name in state or name in state["phases"]:
            continue
        calc = calc or labeller(spec)()
        if "references" not in state:
            state["references"] = references(calc, ["Cu", "O"])
        if name == "clean":  # the relaxed template itself: ΔG = 0 by definition
            entry = dict(state["template"], steps=0)
        else:
            relaxed, energy, n = relax_with(calc, atoms, fmax=fmax, steps=steps)
            entry = dict(energy=energy, steps=n, converged=n < steps, positions=np.round(relaxed.positions, 5).tolist())
        if name in ("template", "template_4"):
            state[name] = dict(entry, n_Cu=len(atoms))
        else:
            n_oxygen = atoms.get_chemical_symbols().count("O")
            entry.update(n_O=n_oxygen, removed=atoms.info["removed"], gibbs_0=structure_free_energy(
                entry["energy"], state["template"]["energy"], {"O": n_oxygen}, {"Cu": atoms.info["removed"]},
                state["references"]))
            state["phases"][name] = entry
        write_json(out, document)
        print(f"{name}: {entry['energy']:.4f} eV ({entry['steps']} steps)", flush=True)
    return state, surface_area(template)


def envelope(phases, area, lo, hi):
    """[(from, to, name)]: the phase with the lowest ΔG in each range of Δμ_O on [lo, hi]
    (:meth:`refgc.phasediagram.PhaseDiagram.envelope` of the four lines)."""
    names = list(phases)
    runs = [Run(restart=k, structure=None, gibbs=p["gibbs_0"], composition={"O": p["n_O"]},
                removed={"Cu": p["removed"]} if p["removed"] else {}) for k, p in enumerate(phases.values())]
    diagram = PhaseDiagram("O", [0.0], [GCResult(runs=runs, area=area, mu={"O": 0.0})], area)
    return [(x0, x1, names[run.restart]) for x0, x1, (_, run) in diagram.envelope(lo, hi)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--facet", choices=sorted(FACETS), default="100")
    ap.add_argument("--labeller", default="sevenn:7net-0")
    ap.add_argument("--fmax", type=float, default=0.01)
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--a", type=float, default=3.612, help="lattice constant of the slab (Å)")
    ap.add_argument("--layers", type=int, default=4, help="layers of the slab (default 4; the bottom 2 fixed)")
    ap.add_argument("--dmu", type=float, nargs=2, default=[-3.0, 0.0], metavar=("LO", "HI"))
    ap.add_argument("--out", type=Path, help="JSON file (default: FACET_phases.json, e.g. 100_phases.json)")
    args = ap.parse_args()
    labeller(args.labeller)  # a bad spec fails here, before anything is computed
    out = args.out or Path(f"{args.facet}_phases.json")
    if args.layers < 3:
        raise SystemExit("facet_phases.py: --layers must be at least 3 (the bottom 2 are fixed)")
    state, area = compute(args.labeller, args.fmax, args.steps, args.a, out, args.facet, args.layers)
    refs = state["references"]
    print(f"\n{args.labeller}, fmax {args.fmax:g} eV/Å, a = {args.a:g} Å, {FACETS[args.facet][0]} cell {area:.2f} Å², "
          f"{args.layers} layers; μ_ref O {refs['O']:.4f} eV, Cu {refs['Cu']:.4f} eV")
    if args.layers != 4:
        four = state["template_4"]
        n = state["template"]["n_Cu"] - four["n_Cu"]
        print(f"the {n} Cu of the extra layers against the 4-layer template: ΔG = "
              f"{state['template']['energy'] - four['energy'] - n * refs['Cu']:+.3f} eV")
    print(f"{'phase':<18} {'n_O':>3} {'Cu removed':>10} {'ΔG(0) eV':>9} {'meV/Å²':>8} {'slope':>5}  relaxed")
    for name, p in state["phases"].items():
        done = "yes" if p.get("converged", True) else f"NO ({p['steps']} steps)"
        print(f"{name:<18} {p['n_O']:>3} {p['removed']:>10} {p['gibbs_0']:>+9.3f} {1e3 * p['gibbs_0'] / area:>+8.1f} "
              f"{-p['n_O']:>+5d}  {done}")
    print(f"\nlowest phase for Δμ_O in [{args.dmu[0]:g}, {args.dmu[1]:g}] eV:")
    lowest = envelope(state["phases"], area, *args.dmu)
    for x0, x1, name in lowest:
        print(f"  {x0:+7.3f} … {x1:+7.3f} eV  {name}")
    never = [name for name in state["phases"] if name not in {name for _, _, name in lowest}]
    if never:
        print(f"  never the lowest: {', '.join(never)}")


if __name__ == "__main__":
    main()
