r"""One restart of the grand canonical optimization (METHOD.md §5), a pure function.

1. **Insert** candidates of each species at random in the region above the slab, no two
   closer than ``min_distance``, with random existences q ~ U(``existence``), by default
   U(½, 1): measured on the default model, candidates that start below ½ mostly vanish
   before they have found a site.
2. **Fractional stage**: minimise ΔG(x, q) over positions and existences with scipy's
   L-BFGS-B, bounds q ∈ [0, 1], candidate heights inside the region, fixed atoms fixed
   (equal lower and upper bounds). Atoms that lower ΔG grow towards q = 1, the rest
   go out of existence. L-BFGS-B sees the existences as κ·q (``existence_scale``), a
   diagonal preconditioner that changes the path, not the minima: with κ > 1 a step
   moves q less than it moves positions, so a candidate finds its site before it
   decides whether to exist (measured in ``benchmarks/scan_existence.py``).
3. **Discretise**: q ≥ ½ → 1, the rest are removed.
4. **Relax** at q = 1: minimise ΔG over positions; the result is an ordinary structure
   whose ΔG is the usual ab initio thermodynamics surface free energy.

ΔG = E(x, q) − E_slab − Σ_candidates q_i μ_{Z_i}; its gradient in q is ∂E/∂q_i − μ_{Z_i},
the first-order free energy of inserting candidate i where it stands. Everything here is
deterministic for a given seed, so restarts can run in any process, in any order.
"""

import time
from dataclasses import dataclass, field

import numpy as onp
from ase import Atoms
from scipy.optimize import minimize

from .graph import NeighborList
from .system import species_indices

__all__ = ["Problem", "Run", "run_restart", "relax"]


@dataclass(frozen=True)
class Problem:
    """Everything a restart needs; picklable, so restarts can run in other processes."""

    model: object  # refgc.Model or any object with species, mu_ref, cutoff, evaluate
    template: Atoms  # q = 1, FixAtoms respected
    mu: dict  # absolute chemical potentials {symbol: eV}
    candidates: tuple  # one symbol per candidate atom
    region: tuple  # (z_low, z_high) of the candidates, Å
    template_energy: float  # E_slab, the relaxed template's energy
    fixed: onp.ndarray  # (n_template,) bool
    min_distance: float = 1.0  # between inserted candidates, Å
    fmax_fractional: float = 1e-3  # L-BFGS-B projected-gradient tolerance, eV/Å or eV
    fmax_relax: float = 0.02
    max_steps: int = 1000
    skin: float = 0.5
    record_every: int = 1  # fractional-stage iterations between trajectory snapshots
    existence: tuple = (0.5, 1.0)  # the candidates' initial q are drawn uniformly from this range
    existence_scale: float = 10.0  # κ: L-BFGS-B's variables are κ·q (a preconditioner)


@dataclass
class Run:
    """The outcome of one restart."""

    restart: int
    structure: Atoms  # template + the added atoms that survived, relaxed, q = 1
    gibbs: float  # ΔG per cell, eV
    composition: dict  # {symbol: number of atoms added}
    trajectory: list = field(default_factory=list)  # [(positions (N, 3), q (N,))], fractional stage
    symbols: list = field(default_factory=list)  # (N,) of the trajectory: template + every candidate
    n_evaluations: int = 0
    seconds: float = 0.0
    key: str = ""  # identifies the restart (refgc.results.problem_key)
    seed: str = ""


class Objective:
    """ΔG and its gradient as a function of one flat vector [x (N·3), q_candidates]."""

    def __init__(self, problem, symbols):
        self.p = problem
        self.n_t = len(problem.template)
        self.species = species_indices(symbols, problem.model.species)
        self.mu = onp.array([problem.mu[s] for s in symbols[self.n_t:]])  # (n_c,)
        self.cell = onp.array(problem.template.cell[:])
        self.pbc = onp.array(problem.template.pbc)
        self.neighbors = NeighborList(problem.model.cutoff, problem.skin)
        self.n_evaluations = 0

    def split(self, v, q_candidates=None):
        """Positions (N, 3) and existences (N,) from the variables [x, κ·q_candidates]."""
        n = len(self.species)
        x = v[: 3 * n].reshape(n, 3)
        qc = v[3 * n :] / self.p.existence_scale if q_candidates is None else q_candidates
        return x, onp.r_[onp.ones(self.n_t), qc]

    def __call__(self, v, q_candidates=None):
        """(ΔG, gradient) in the variables; ``q_candidates`` given: positions only."""
        x, q = self.split(v, q_candidates)
        graph = self.neighbors.update(x, self.cell, self.pbc)
        E, dE_dx, dE_dq = self.p.model.evaluate(self.species, x, q, graph)
        self.n_evaluations += 1
        dG = E - self.p.template_energy - onp.dot(q[self.n_t :], self.mu)
        if q_candidates is not None:
            return dG, dE_dx.ravel()
        return dG, onp.r_[dE_dx.ravel(), (dE_dq[self.n_t :] - self.mu) / self.p.existence_scale]


def insert(problem, rng):
    """Template + candidates at random in the region, no two candidates too close."""
    cell = problem.template.cell[:]
    z_lo, z_hi = problem.region
    points = []
    for _ in range(1000 * len(problem.candidates)):
        if len(points) == len(problem.candidates):
            break
        p = rng.uniform(0, 1, 2) @ cell[:2] + [0.0, 0.0, rng.uniform(z_lo, z_hi)]
        if all(_mic_distance(p, o, cell) >= problem.min_distance for o in points):
            points.append(p)
    if len(points) < len(problem.candidates):
        raise ValueError(
            f"could not place {len(problem.candidates)} candidates {problem.min_distance} Å apart "
            f"in the region z ∈ [{z_lo:.2f}, {z_hi:.2f}] Å: give fewer candidates or a larger region"
        )
    atoms = problem.template.copy()
    atoms += Atoms(list(problem.candidates), positions=points)
    return atoms, rng.uniform(*problem.existence, len(problem.candidates))


def _mic_distance(a, b, cell):
    """In-plane minimum-image distance between two points (periodic along a1, a2)."""
    d = b - a
    frac = onp.linalg.lstsq(cell[:2, :2].T, d[:2], rcond=None)[0]
    d[:2] -= onp.rint(frac) @ cell[:2, :2]
    return float(onp.linalg.norm(d))


def _position_bounds(problem, atoms, region=True):
    """L-BFGS-B bounds per coordinate: fixed atoms pinned, candidate z inside the region."""
    bounds = []
    n_t = len(problem.template)
    for k, x in enumerate(atoms.positions):
        if k < n_t:
            bounds += [(c, c) for c in x] if problem.fixed[k] else [(None, None)] * 3
        else:
            bounds += [(None, None), (None, None), problem.region if region else (None, None)]
    return bounds


def relax(problem, atoms):
    """Minimise ΔG over positions at q = 1 (fixed atoms fixed, no region bounds).

    Returns the relaxed copy (wrapped into the cell), its ΔG and the number of evaluations."""
    f = Objective(problem, atoms.get_chemical_symbols())
    result = minimize(f, atoms.positions.ravel(), args=(onp.ones(len(atoms) - len(problem.template)),), jac=True,
                      method="L-BFGS-B", bounds=_position_bounds(problem, atoms, region=False),
                      options=dict(maxiter=problem.max_steps, gtol=problem.fmax_relax))
    relaxed = atoms.copy()
    relaxed.positions = result.x.reshape(-1, 3)
    relaxed.wrap()
    return relaxed, float(result.fun), f.n_evaluations


def run_restart(problem, restart, seed):
    """One restart from ``seed`` (anything ``numpy.random.default_rng`` takes)."""
    t0 = time.perf_counter()
    rng = onp.random.default_rng(seed)
    atoms, q_c = insert(problem, rng)
    n_t = len(problem.template)
    f = Objective(problem, atoms.get_chemical_symbols())
    trajectory = [(atoms.positions.copy(), onp.r_[onp.ones(n_t), q_c])]

    iterations = [0]

    def record(v):  # called by L-BFGS-B after each iteration
        iterations[0] += 1
        if iterations[0] % problem.record_every == 0:
            x, q = f.split(v)
            trajectory.append((x.copy(), q))

    kappa = problem.existence_scale
    v0 = onp.r_[atoms.positions.ravel(), kappa * q_c]
    bounds = _position_bounds(problem, atoms) + [(0.0, kappa)] * len(q_c)
    options = dict(maxiter=problem.max_steps, gtol=problem.fmax_fractional)
    result = minimize(f, v0, jac=True, method="L-BFGS-B", bounds=bounds, callback=record, options=options)
    x, q = f.split(result.x)
    trajectory.append((x.copy(), q.copy()))

    keep = onp.r_[onp.ones(n_t, bool), q[n_t:] >= 0.5]  # discretise
    final = atoms[keep]
    final.positions = x[keep]
    final, gibbs, n_relax = relax(problem, final)
    added = final.get_chemical_symbols()[n_t:]
    return Run(
        restart=restart,
        structure=final,
        gibbs=gibbs,
        composition={s: added.count(s) for s in sorted(set(problem.candidates))},
        trajectory=trajectory,
        symbols=atoms.get_chemical_symbols(),
        n_evaluations=f.n_evaluations + n_relax,
        seconds=time.perf_counter() - t0,
    )
