"""AGOX, a well-known grand canonical global optimizer, on the same problem as ``refgc optimize``.

    python benchmarks/bench_agox.py --cell c6x2 --dmu -1.0 --seed 1 --calls 20000 \
        [--out DIR] [--record results.jsonl]

The problem: refgc's default model, the Cu(110) c(6×2) template or the Cu(110) 2×2 cell
(``--cell 2x2``; bottom 2 of 4 layers fixed in both), Δμ_O = ``--dmu`` (Δμ_Cu = 0), and as
many Cu and O as refgc's default candidates (0-8 of each on the c(6×2) cell, 0-6 on the 2×2),
added 0.8-3.5 Å above the top atom (refgc's default region). The objective is refgc's

    ΔG = E(structure) − E_slab − Σ_added (μ_X^ref + Δμ_X),

with E_slab the template relaxed by the same model (``refgc.relax``). AGOX's grand
canonical setup: a ``GFEKMeansSampler`` population (k-means on SOAP features, the lowest
ΔG of each cluster), ``RandomGenerator``, ``RattleGenerator`` and ``AddRemoveGenerator``,
and a ``LocalOptimizationEvaluator`` that relaxes every candidate with ASE's BFGS on
``refgc.Calculator(model)``; no surrogate model (every candidate is evaluated with the
model itself). It prints the best ΔG, its composition, the calls when it was first
reached, the total calls, and one JSON line (appended to ``--record`` too); and checks the best structure's ΔG with
``refgc.gibbs_free_energy`` and AGOX's own ``gibbs_free_energy`` (to 1e-6 eV).

Calls: the calculator is wrapped; each ``calculate`` (one energy + forces evaluation)
counts one call and records ΔG. Once the count reaches ``--calls``, BFGS stops, the
evaluator skips the iteration's remaining candidates and AGOX's loop ends; the best is
taken over the first ``--calls`` calls only, and the total made is printed too (the
template relaxation's calls, like refgc's, are not counted).

Why a separate environment: AGOX 3.11.1 imports ``ase.constraints.IndexedConstraint``,
which ASE 3.28 removed, so the script runs itself inside ``benchmarks/.agox-venv`` (agox
3.11.1, ase 3.27.0, refgc installed editable from this repository), made on first use.
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / "benchmarks" / ".agox-venv"
VENV_PYTHON = VENV / "bin" / "python"
READY = VENV / "ready-agox-3.11.1"  # written once every package is installed

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "RAYON_NUM_THREADS"):
    os.environ.setdefault(var, "1")


def _enter_venv():
    """Run this script again with the AGOX venv's Python (making the venv first if needed)."""
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    if not READY.exists():
        print(f"making {VENV} (agox 3.11.1, ase 3.27.0, refgc) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        pip = [str(VENV_PYTHON), "-m", "pip", "install", "-q"]
        subprocess.run(pip + ["agox==3.11.1", "ase==3.27.0"], check=True)
        subprocess.run(pip + ["-e", str(ROOT)], check=True)
        READY.touch()
    os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), str(Path(__file__).resolve()), *sys.argv[1:]])


if __name__ == "__main__":
    _enter_venv()

import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from ase.constraints import FixAtoms  # noqa: E402

import refgc  # noqa: E402
from refgc.grandcanonical import default_candidates  # noqa: E402
from refgc.modelfile import parameters_digest  # noqa: E402
from refgc.search import fixed_mask  # noqa: E402
from refgc.surface import cu110_c6x2_template, cu110_slab, top_layer_z  # noqa: E402

CELLS = {"c6x2": cu110_c6x2_template, "2x2": lambda: cu110_slab((2, 2))}


def model_tag(model):
    """How a benchmark row names the model it was made with: the first 12 hex digits of its
    parameter digest (``refgc.modelfile.parameters_digest``)."""
    return parameters_digest(model.params)[:12]
REGION = (0.8, 3.5)  # Å above the top atom, refgc's default


class CountingCalculator(refgc.Calculator):
    """refgc's calculator that counts its evaluations and keeps the lowest ΔG seen."""

    def __init__(self, model, n_template, template_energy, mu, **kwargs):
        super().__init__(model, **kwargs)
        self.n_template, self.template_energy, self.mu = n_template, template_energy, mu
        self.calls = 0
        self.budget = None  # the best is kept over the first `budget` calls only
        self.best = (np.inf, None, None)  # (ΔG, atoms, the call that first reached it)
        self.history = []  # (call, ΔG) of every new best

    def calculate(self, atoms=None, properties=("energy",), system_changes=None):
        if system_changes is None:
            super().calculate(atoms, properties)
        else:
            super().calculate(atoms, properties, system_changes)
        self.calls += 1
        added = self.atoms.get_chemical_symbols()[self.n_template:]
        dG = self.results["energy"] - self.template_energy - sum(self.mu[s] for s in added)
        if dG < self.best[0] and (self.budget is None or self.calls <= self.budget):
            best = self.atoms.copy()
            best.calc = None
            self.best = (dG, best, self.calls)
            self.history.append((self.calls, float(dG)))


def composition(atoms, n_template, species):
    added = atoms.get_chemical_symbols()[n_template:]
    return {s: added.count(s) for s in species}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cell", choices=sorted(CELLS), default="c6x2", help="the slab")
    p.add_argument("--dmu", type=float, default=-1.0, help="Δμ_O in eV (Δμ_Cu = 0)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--calls", type=int, default=20000, help="budget of energy + force calls")
    p.add_argument("--fmax", type=float, default=0.05, help="BFGS force criterion (eV/Å)")
    p.add_argument("--steps", type=int, default=100, help="BFGS steps per candidate at most")
    p.add_argument("--sample-size", type=int, default=10, help="GFE k-means population size")
    p.add_argument("--out", help="folder for AGOX's database and log (default: a temporary one)")
    p.add_argument("--record", help="a JSON-lines file to append the result row to")
    args = p.parse_args()
    record = Path(args.record).resolve() if args.record else None  # before AGOX's chdir below

    from agox import AGOX
    from agox.collectors import StandardCollector
    from agox.databases import Database
    from agox.environments import Environment
    from agox.evaluators import LocalOptimizationEvaluator
    from agox.generators import AddRemoveGenerator, RandomGenerator, RattleGenerator
    from agox.models.descriptors.soap import SOAP
    from agox.observer import Observer
    from agox.samplers import GFEKMeansSampler
    from agox.utils.thermodynamics import ThermodynamicsData, gibbs_free_energy
    from ase.optimize import BFGS

    model = refgc.load_model()
    slab = CELLS[args.cell]()
    max_added = default_candidates(slab, ["Cu", "O"])  # what refgc optimize would insert
    top = top_layer_z(slab)  # of the template as built, as refgc.optimize does
    fixed = np.flatnonzero(fixed_mask(slab))
    template, E_slab, _ = refgc.relax(model, slab)
    template.set_constraint()
    n_t = len(template)
    dmu = {"O": args.dmu, "Cu": 0.0}
    mu = {s: model.mu_ref[s] + dmu[s] for s in max_added}
    calc = CountingCalculator(model, n_t, E_slab, mu)
    calc.budget = args.calls

    z_lo, z_hi = top + REGION[0], top + REGION[1]
    confinement_cell = template.cell[:].copy()
    confinement_cell[2] = [0.0, 0.0, z_hi - z_lo]
    environment = Environment(
        template=template,
        symbols_range={s: list(range(n + 1)) for s, n in max_added.items()},
        confinement_cell=confinement_cell,
        confinement_corner=np.array([0.0, 0.0, z_lo]),
        box_constraint_pbc=[True, True, False],
        fix_template=False,  # the template's top layers relax, as in refgc
        print_report=False,
    )
    environment.add_constraint(FixAtoms(indices=fixed))  # its bottom 2 layers do not

    thermo = ThermodynamicsData(references=dict(model.mu_ref), chemical_potentials=dmu, template_energy=E_slab)

    # The budget: BFGS stops, the evaluator skips the iteration's remaining candidates, and
    # AGOX's loop ends, once the calculator has made `--calls` calls.
    class BudgetBFGS(BFGS):
        def converged(self, *a, **k):
            return calc.calls >= args.calls or super().converged(*a, **k)

    class BudgetEvaluator(LocalOptimizationEvaluator):
        def evaluate_candidate(self, candidate):
            return calc.calls < args.calls and super().evaluate_candidate(candidate)

    class CallBudget(Observer):
        name = "CallBudget"

        def __init__(self, order=10):
            super().__init__(order=order)
            self.iterations = 0
            self.add_observer_method(self.check, sets={}, gets={}, order=self.order[0], handler_identifier="AGOX")

        @Observer.observer_method
        def check(self, state):
            self.iterations += 1
            if calc.calls >= args.calls:
                state.set_convergence_status(True)

    out = (Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="bench_agox_"))).resolve()
    out.mkdir(parents=True, exist_ok=True)
    db_path = out / f"agox_{args.cell}_dmu{args.dmu:+.2f}_seed{args.seed}.db"
    if db_path.exists():
        db_path.unlink()
    log_path = db_path.with_suffix(".log")

    t0 = time.perf_counter()
    os.chdir(out)  # AGOX's generators save confinement_plot_*.png in the working directory
    with open(log_path, "w") as log, contextlib.redirect_stdout(log):
        database = Database(filename=str(db_path), order=3)
        descriptor = SOAP(environment=environment, r_cut=6, nmax=3, lmax=2, sigma=1, weight=True, periodic=True)
        sampler = GFEKMeansSampler(thermo_data=thermo, descriptor=descriptor, database=database,
                                   sample_size=args.sample_size)
        confinement = environment.get_confinement()
        generators = [
            RandomGenerator(**confinement, contiguous=False),
            RattleGenerator(**confinement),
            AddRemoveGenerator(**confinement),
        ]
        num_candidates = {0: [10, 0, 0], 5: [2, 4, 4]}  # per iteration: random, rattle, add/remove
        collector = StandardCollector(generators=generators, sampler=sampler, environment=environment,
                                      num_candidates=num_candidates, order=1)
        evaluator = BudgetEvaluator(
            calc, optimizer=BudgetBFGS, gets={"get_key": "candidates"}, number_to_evaluate=10, store_trajectory=True,
            optimizer_kwargs={"logfile": None}, optimizer_run_kwargs={"fmax": args.fmax, "steps": args.steps},
            constraints=environment.get_constraints(), order=2,
        )
        budget = CallBudget()
        agox = AGOX(collector, evaluator, database, budget, seed=args.seed)
        agox.run(N_iterations=10**9)
    seconds = time.perf_counter() - t0

    dG, best, first = calc.best
    comp = composition(best, n_t, max_added)
    # the same structure, by refgc's ΔG and by AGOX's own
    dG_refgc, _, _ = refgc.gibbs_free_energy(model, best, None, dmu, n_t, template_energy=E_slab)
    E = refgc.energy(model, best)
    dG_agox = gibbs_free_energy(numbers=best.numbers[n_t:], total_energy=E, thermo_data=thermo)
    within = next(c for c, g in calc.history if g <= dG + 0.010)
    row = {
        "code": "agox-3.11.1", "model": model_tag(model), "cell": args.cell, "dmu_O": args.dmu,
        "seed": args.seed, "budget": args.calls,
        "best_dG": float(dG), "added": comp, "first_call": first, "first_call_within_10meV": within,
        "total_calls": calc.calls, "iterations": budget.iterations,
        "seconds": round(seconds, 1), "dG_refgc": float(dG_refgc), "dG_agox": float(dG_agox),
    }
    if record:
        with open(record, "a") as f:
            f.write(json.dumps(row) + "\n")
    print(f"AGOX 3.11.1 on {args.cell} at Δμ_O = {args.dmu:+.3f} eV, seed {args.seed}, budget {args.calls} calls ({seconds:.0f} s)")
    print(f"best ΔG {dG:.4f} eV per cell, added Cu{comp['Cu']} O{comp['O']}, "
          f"first reached at call {first} (within 10 meV at call {within}); {calc.calls} calls in all")
    print(f"check: refgc.gibbs_free_energy {dG_refgc:.6f}, AGOX gibbs_free_energy {dG_agox:.6f} eV")
    print(f"AGOX's database and log: {db_path}, {log_path}")
    print(json.dumps(row))
    if not (abs(dG_refgc - dG) < 1e-6 and abs(dG_agox - dG) < 1e-6):
        sys.exit("the best structure's ΔG does not match the objective to 1e-6 eV")


if __name__ == "__main__":
    main()
