"""Short-range repulsion: a refgc model against SevenNet-0, and SevenNet-0 on its own.

    python scripts/short_range.py [--model MODEL.npz]      (needs the `label` extra)

Prints two tables of energies (eV) relative to the largest distance:

* an O or a Cu atom placed straight above a top-layer Cu atom of the c(6×2) template as
  built (not relaxed), at heights d, with SevenNet-0 and with the model;
* free dimers Cu–Cu, Cu–O and O–O in a 20 Å box with SevenNet-0.

It is the check behind docs/model.md's remark that SevenNet-0 cannot supply a short-range
repulsion: its own curves turn over below about 1 Å (Cu–Cu, O–O) or are nearly flat
(Cu above Cu), so a prior fitted to them, or active-learning labels of collapsed
structures, would teach the network holes instead of walls.
"""

import argparse
import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import numpy as np  # noqa: E402
from ase import Atoms  # noqa: E402

import refgc  # noqa: E402
from refgc.labeller import labeller as make_labeller  # noqa: E402
from refgc.surface import cu110_c6x2_template  # noqa: E402


def energy(atoms, calc):
    atoms = atoms.copy()
    atoms.calc = calc
    return atoms.get_potential_energy()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="model file (default: the shipped model)")
    args = ap.parse_args()
    labeller, model = make_labeller("sevenn:7net-0")(), refgc.Calculator(refgc.load_model(args.model))
    slab = cu110_c6x2_template()
    top = int(slab.positions[:, 2].argmax())
    heights = np.round(np.arange(0.5, 2.61, 0.1), 2)
    print("# atom above a top-layer Cu: E(d) - E(2.6 Å), eV")
    print(f"{'d (Å)':>6} {'O SevenNet-0':>13} {'O model':>9} {'Cu SevenNet-0':>14} {'Cu model':>9}")
    table = {}
    for symbol in ("O", "Cu"):
        structures = [slab + Atoms(symbol, positions=[slab.positions[top] + [0, 0, d]]) for d in heights]
        for name, calc in (("labeller", labeller), ("model", model)):
            e = np.array([energy(a, calc) for a in structures])
            table[symbol, name] = e - e[-1]
    for k, d in enumerate(heights):
        print(f"{d:6.1f} {table['O', 'labeller'][k]:13.2f} {table['O', 'model'][k]:9.2f} "
              f"{table['Cu', 'labeller'][k]:14.2f} {table['Cu', 'model'][k]:9.2f}")
    print("\n# free dimers with SevenNet-0: E(d) - E(4.0 Å), eV")
    distances = np.round(np.arange(0.5, 4.01, 0.1), 2)
    curves = {}
    for pair in ("Cu2", "CuO", "O2"):
        e = np.array([energy(Atoms(pair, positions=[[10, 10, 10], [10, 10, 10 + d]], cell=[20, 20, 20]), labeller)
                      for d in distances])
        curves[pair] = e - e[-1]
    print(f"{'d (Å)':>6} {'Cu-Cu':>12} {'Cu-O':>9} {'O-O':>9}")
    for k, d in enumerate(distances):
        if d <= 2.0:
            print(f"{d:6.1f} {curves['Cu2'][k]:12.2f} {curves['CuO'][k]:9.2f} {curves['O2'][k]:9.2f}")


if __name__ == "__main__":
    main()
