"""Generate and label the default model's training data with SevenNet-0.

The template is the Cu(110) c(6×2) slab (4 layers, bottom 2 fixed) at a = 3.612 Å,
SevenNet-0's own Cu lattice constant (this script checks it with an E(a) fit of bulk Cu
and stores the fit). The plan (refgc.datagen.make_plan) is run task by task and appended
to ``--out``; running the same command again resumes where it stopped. Every
``--compress-every`` frames, and at the end, the file is written xz-compressed next to
it (``train.extxyz.xz``: the file to commit).

References of the Gibbs free energy, from the same labeller, go to ``references.json``:
mu_O^ref = E(O2)/2 (O2 relaxed in a 12 Å box) and mu_Cu^ref = E(bulk Cu)/atom at the
fitted lattice constant.

Usage (one worker on one core, low priority, in the background)::

    nice -n 10 nohup python scripts/make_default_data.py > data/default/label.log 2>&1 &
"""

import argparse
import lzma
import json
import os
import sys
import time
from collections import Counter

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from refgc import datagen  # noqa: E402
from refgc.surface import cu110_c6x2_template  # noqa: E402


def sevennet_factory():
    """The labeller: SevenNet-0 on the CPU (its weights ship with the sevenn package)."""
    import warnings
    warnings.filterwarnings("ignore", message=".*accelerator.*")
    from sevenn.calculator import SevenNetCalculator
    return SevenNetCalculator("7net-0", device="cpu")


def fit_lattice_constant(calc, a_grid):
    """Equilibrium fcc lattice constant (Å) and bulk modulus (GPa) from an E(V) fit."""
    from ase.build import bulk
    from ase.eos import EquationOfState
    from ase.units import GPa
    volumes, energies = [], []
    for a in a_grid:
        atoms = bulk("Cu", "fcc", a=a)  # primitive cell, V = a^3 / 4
        atoms.calc = calc
        volumes.append(atoms.get_volume())
        energies.append(atoms.get_potential_energy())
    v0, e0, b = EquationOfState(volumes, energies, eos="birchmurnaghan").fit()
    return (4 * v0) ** (1 / 3), e0, b / GPa


def references(calc, a_template):
    """mu^ref of O and Cu, and the checks behind them, computed with ``calc``."""
    from ase import Atoms
    from ase.build import bulk
    from ase.optimize import BFGS
    a0, e0, b = fit_lattice_constant(calc, np.linspace(3.52, 3.72, 11))
    cu = bulk("Cu", "fcc", a=a0)
    cu.calc = calc
    e_cu = cu.get_potential_energy() / len(cu)
    o2 = Atoms("O2", positions=[[0, 0, 0], [0, 0, 1.24]], cell=[12.0] * 3, pbc=False)
    o2.center()
    o2.calc = calc
    BFGS(o2, logfile=None).run(fmax=1e-4, steps=200)
    e_o2 = o2.get_potential_energy()
    slab = cu110_c6x2_template(a=a_template)
    slab.calc = calc
    BFGS(slab, logfile=None).run(fmax=0.01, steps=300)
    import sevenn
    return {
        "labeller": "SevenNet-0 (sevenn.calculator.SevenNetCalculator('7net-0', device='cpu'))",
        "sevenn_version": getattr(sevenn, "__version__", "unknown"),
        "mu_ref": {"O": e_o2 / 2, "Cu": e_cu},
        "E_O2": e_o2,
        "O2_bond": float(o2.get_distance(0, 1)),
        "E_bulk_Cu_per_atom": e_cu,
        "a_Cu_fit": a0,
        "a_Cu_template": a_template,
        "B_Cu_GPa": b,
        "E_template_relaxed": slab.get_potential_energy(),
        "units": "eV, Angstrom",
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="data/default/train.extxyz")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--torch-threads", type=int, default=1)
    ap.add_argument("--compress-every", type=int, default=100,
                    help="refresh OUT.xz after this many new frames")
    ap.add_argument("--a", type=float, default=3.612, help="template lattice constant (Å)")
    ap.add_argument("--n-insertion", type=int, default=300)
    ap.add_argument("--n-relax", type=int, default=280)
    ap.add_argument("--n-template", type=int, default=60)
    ap.add_argument("--n-gas", type=int, default=40, help="O2 frames")
    ap.add_argument("--n-bulk", type=int, default=80)
    ap.add_argument("--relax-steps", type=int, default=80)
    ap.add_argument("--relax-every", type=int, default=20)
    ap.add_argument("--max-tasks", type=int, help="run only the first N tasks of the plan (a balanced prefix)")
    ap.add_argument("--skip-references", action="store_true",
                    help="do not (re)compute references.json")
    args = ap.parse_args(argv)

    os.environ.setdefault("OMP_NUM_THREADS", str(args.torch_threads))
    out_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    ref_path = os.path.join(out_dir, "references.json")
    if not args.skip_references and not os.path.exists(ref_path):
        import torch
        torch.set_num_threads(args.torch_threads)
        t0 = time.time()
        refs = references(sevennet_factory(), args.a)
        with open(ref_path, "w") as f:
            json.dump(refs, f, indent=2)
        print(f"[refs] {time.time() - t0:.0f} s: a_Cu(fit) = {refs['a_Cu_fit']:.4f} Å "
              f"(B = {refs['B_Cu_GPa']:.0f} GPa), E(bulk Cu)/atom = {refs['E_bulk_Cu_per_atom']:.4f} eV, "
              f"E(O2)/2 = {refs['mu_ref']['O']:.4f} eV (d = {refs['O2_bond']:.3f} Å)", flush=True)
    elif os.path.exists(ref_path):
        print(f"[refs] kept {ref_path}", flush=True)

    if not os.path.exists(args.out) and os.path.exists(args.out + ".xz"):
        # a fresh checkout has only the committed, compressed file: resume from it
        with lzma.open(args.out + ".xz", "rb") as src, open(args.out, "wb") as dst:
            dst.write(src.read())
        print(f"[resume] restored {args.out} from {args.out}.xz", flush=True)

    template = cu110_c6x2_template(a=args.a, layers=4, vacuum=10.0, fixed_layers=2)
    plan = datagen.make_plan(
        template, seed=args.seed, n_insertion=args.n_insertion, n_relax=args.n_relax,
        n_template=args.n_template, n_gas=args.n_gas, n_bulk=args.n_bulk,
        relax_steps=args.relax_steps, relax_every=args.relax_every, lattice={"Cu": args.a})
    plan = plan[: args.max_tasks] if args.max_tasks is not None else plan

    def checkpoint(path):
        xz = datagen.compress_xz(path)
        print(f"[checkpoint] {xz}: {os.path.getsize(xz) / 1e6:.2f} MB", flush=True)

    stats = datagen.run_plan(plan, sevennet_factory, args.out, workers=args.workers,
                             torch_threads=args.torch_threads, checkpoint=checkpoint,
                             checkpoint_every=args.compress_every)
    print(f"[done] {stats}", flush=True)
    import ase.io
    frames = ase.io.read(args.out, index=":")
    datagen.check_frames(frames, ["Cu", "O"])
    print(f"[done] {len(frames)} frames: {dict(Counter(f.info['config_type'] for f in frames))}")


if __name__ == "__main__":
    main()
