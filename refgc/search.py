r"""The search: one restart of the grand canonical optimization, and a plain relaxation.

A restart is a pure function of its :class:`Problem` and a seed:

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
   The stage stops when the largest projected gradient component is below
   ``fmax_fractional`` (0.02 eV/Å for positions, eV for κ·q): the relaxation that follows
   converges the positions anyway; a stop at 10⁻³ takes 1.7 times the calls and, on the
   default model, ends in the same best structure at 8 of 12 problems, a better one at 2
   and a worse one at 2 (``benchmarks/bench_search.py``, docs/searching.md). Much looser
   stops leave existences unsettled: at 0.05, a toy surface's candidates are discretised
   while crowding each other.
3. **Discretise**: q ≥ ½ → 1, the rest are removed.
4. **Relax** at q = 1: minimise the energy over positions (at a fixed composition ΔG is
   E minus a constant); the result is an ordinary structure whose ΔG is the usual ab
   initio thermodynamics surface free energy.

Two additions to the published method follow, both on by default and both only ever
lowering a restart's ΔG (``polish=False, hops=0`` is the method as published):

5. **Polish** (:func:`polish`): remove added atoms while that lowers ΔG.
6. **Hops** (:func:`hop`): a short basin hopping from the polished structure: move or
   add one atom, rattle the added ones or shift the template's vacancies by one site,
   relax and polish, and keep the result if its ΔG is lower.

ΔG and its gradients come from :mod:`refgc.gibbs`. Everything here is deterministic for
a given seed, so restarts can run in any process, in any order. :func:`relax` is the
relaxation of the last step as a function of its own: any structure, any model.
"""

import time
from dataclasses import dataclass

import numpy as np
from ase import Atoms
from ase.constraints import FixAtoms
from ase.geometry import get_distances
from scipy.optimize import minimize
from scipy.stats import qmc

from .contacts import placement_distance
from .gibbs import free_energy, template_potentials
from .graph import NeighborList, build_graph
from .results import Run
from .surface import surface_area
from .system import check_atoms, check_model, check_real, species_indices, system_from_atoms

__all__ = ["Problem", "run_restart", "relax", "polish", "hop", "perturb", "gibbs_of", "restart_candidates",
           "fixed_mask", "check_fit"]


@dataclass(frozen=True)
class Problem:
    """Everything a restart needs; picklable, so restarts can run in other processes."""

    model: object  # refgc.Model or any object with species, mu_ref, cutoff, evaluate
    template: Atoms  # q = 1, FixAtoms respected
    mu: dict  # absolute chemical potentials {symbol: eV}
    candidates: tuple  # one symbol per candidate atom
    region: tuple  # (z_low, z_high) of the candidates, Å
    template_energy: float  # E_slab, the relaxed template's energy
    fixed: np.ndarray  # (n_template,) bool
    min_distance: float = 1.0  # between inserted candidates, Å
    fmax_fractional: float = 0.02  # L-BFGS-B projected-gradient tolerance, eV/Å or eV
    fmax_relax: float = 0.02
    max_steps: int = 1000
    skin: float = 0.5
    record_every: int = 1  # fractional-stage iterations between trajectory snapshots
    existence: tuple = (0.5, 1.0)  # the candidates' initial q are drawn uniformly from this range
    existence_scale: float = 10.0  # κ: L-BFGS-B's variables are κ·q (a preconditioner)
    mixtures: bool = False  # restart k > 0 inserts its own share of each species (restart_candidates)
    polish: bool = True  # after the relaxation, remove added atoms while that lowers ΔG (polish)
    hops: int = 3  # basin-hopping steps after the polish (hop); 0: none
    removable: tuple = ()  # template atoms whose existence is a variable too (their indices)

    def template_potentials(self):
        """(n_template,) μ of the removable template atoms, 0 for the others; ``None`` when
        nothing is removable (:func:`refgc.gibbs.free_energy`'s ``mu_template``)."""
        return template_potentials(self.template.get_chemical_symbols(), self.removable, self.mu)


class Objective:
    """ΔG and its gradient as a function of one flat vector [x (N·3), κ·q_variable], the
    variable existences being the removable template atoms' and then the candidates'."""

    def __init__(self, problem, symbols):
        self.p = problem
        self.n_t = len(problem.template)
        self.species = species_indices(symbols, problem.model.species)
        self.mu = np.array([problem.mu[s] for s in symbols[self.n_t:]])  # (n_c,)
        self.mu_template = problem.template_potentials()
        self.variable = np.r_[np.array(problem.removable, dtype=int), np.arange(self.n_t, len(symbols))]
        self.cell = np.array(problem.template.cell[:])
        self.pbc = np.array(problem.template.pbc)
        self.neighbors = NeighborList(problem.model.cutoff, problem.skin)
        self.n_evaluations = 0

    def split(self, v):
        """Positions (N, 3) and existences (N,) from the variables [x, κ·q_variable]."""
        n = len(self.species)
        q = np.ones(n)
        q[self.variable] = v[3 * n :] / self.p.existence_scale
        return v[: 3 * n].reshape(n, 3), q

    def __call__(self, v):
        """(ΔG, gradient) in the variables."""
        x, q = self.split(v)
        graph = self.neighbors.update(x, self.cell, self.pbc)
        E, dE_dx, dE_dq = self.p.model.evaluate(self.species, x, q, graph)
        self.n_evaluations += 1
        dG, dG_dq = free_energy(E, q, self.mu, self.n_t, self.p.template_energy, dE_dq, self.mu_template)
        return dG, np.r_[dE_dx.ravel(), dG_dq[self.variable] / self.p.existence_scale]


def check_fit(n, slab, region, min_distance):
    """Refuse ``n`` candidates that random insertion cannot place ``min_distance`` apart.

    Spheres of diameter ``min_distance`` around the candidates do not overlap and stay
    within the region widened by ``min_distance / 2`` below and above. Random sequential
    addition, which :func:`insert` is, jams when spheres fill about 0.38 of space (close
    packing would fill 0.74), so more than 0.38 · area · (Δz + d) / (π d³ / 6) cannot be
    placed. A cheap bound, checked before anything is computed, so that :func:`insert`
    does not spin for minutes on a count it cannot reach.
    """
    area = surface_area(slab)
    (z_lo, z_hi), d = region, min_distance
    bound = int(JAMMING * area * (z_hi - z_lo + d) / (np.pi * d**3 / 6))
    if n > bound:
        raise ValueError(
            f"{n} candidates cannot be placed {d} Å apart in the region z ∈ [{z_lo:.2f}, {z_hi:.2f}] Å "
            f"over {area:.1f} Å² of surface: random insertion places at most about {bound}; give fewer "
            "candidates or a larger region"
        )


JAMMING = 0.38  # packing fraction at which random sequential addition of spheres jams


def restart_candidates(problem, restart):
    """The candidates restart ``restart`` inserts.

    Restart 0 inserts all of ``problem.candidates``, as the method is published. With
    ``problem.mixtures``, restart k > 0 inserts ⌊u_s (n_s + 1)⌋ of the n_s candidates of
    each species s, where u is the k-th point of the Halton sequence in as many dimensions
    as there are species (``scipy.stats.qmc.Halton``, unscrambled): together the restarts
    cover the compositions from few to all candidates evenly, whatever their number. A
    cluster of candidates at q = 1 is a local minimum of ΔG(q) even when the cluster as a
    whole costs more than it gains (its atoms bind each other), so a restart seldom ends
    with fewer atoms of a species than it started with; measured on the default model in
    ``benchmarks/bench_search.py``.
    """
    if not problem.mixtures or restart == 0:
        return problem.candidates
    species = sorted(set(problem.candidates))
    halton = qmc.Halton(d=len(species), scramble=False)
    halton.fast_forward(restart)
    share = halton.random(1)[0]
    counts = {s: int(u * (problem.candidates.count(s) + 1)) for s, u in zip(species, share)}
    return tuple(s for s in species for _ in range(counts[s]))


def insert(problem, rng, candidates=None):
    """Template + ``candidates`` (default ``problem.candidates``) at random in the region,
    no two candidates too close."""
    candidates = problem.candidates if candidates is None else candidates
    cell = problem.template.cell[:]
    z_lo, z_hi = problem.region
    check_fit(len(candidates), problem.template, problem.region, problem.min_distance)
    points = []
    for _ in range(1000 * len(candidates)):
        if len(points) == len(candidates):
            break
        p = rng.uniform(0, 1, 2) @ cell[:2] + [0.0, 0.0, rng.uniform(z_lo, z_hi)]
        if not points or get_distances(p, points, cell=cell, pbc=(True, True, False))[1].min() >= problem.min_distance:
            points.append(p)
    if len(points) < len(candidates):
        raise ValueError(
            f"could not place {len(candidates)} candidates {problem.min_distance} Å apart "
            f"in the region z ∈ [{z_lo:.2f}, {z_hi:.2f}] Å: give fewer candidates or a larger region"
        )
    atoms = problem.template.copy()
    atoms += Atoms(list(candidates), positions=np.reshape(points, (-1, 3)))
    return atoms, rng.uniform(*problem.existence, len(candidates))


def fixed_mask(atoms):
    """(N,) bool: the atoms a ``FixAtoms`` constraint holds; other constraints are refused."""
    fixed = np.zeros(len(atoms), bool)
    for c in atoms.constraints:
        if not isinstance(c, FixAtoms):
            raise ValueError(f"unsupported constraint {type(c).__name__}: only FixAtoms is respected")
        fixed[c.get_indices()] = True
    return fixed


def _position_bounds(positions, fixed, region=None):
    """L-BFGS-B bounds per coordinate: fixed atoms pinned; the z of the atoms after the
    first ``len(fixed)`` (the candidates) inside ``region``, if given."""
    bounds = []
    for k, x in enumerate(positions):
        if k < len(fixed):
            bounds += [(c, c) for c in x] if fixed[k] else [(None, None)] * 3
        else:
            bounds += [(None, None), (None, None), region or (None, None)]
    return bounds


def relax(model, atoms, *, fmax=0.02, max_steps=1000, skin=0.5):
    """Minimise the model's energy over the positions of ``atoms`` (``FixAtoms`` respected)
    with L-BFGS-B until the largest gradient component is below ``fmax`` eV/Å. Every atom
    is present, unless ``atoms.arrays["existence"]`` says otherwise: an atom at q = 0 is
    not there (it feels no force and moves nothing).

    Returns ``(relaxed, energy, n_evaluations)``: a relaxed copy wrapped into the cell, its
    energy in eV, and the number of model evaluations."""
    check_model(model)
    check_atoms(atoms)
    check_real(fmax, "fmax", positive=True)
    if not (isinstance(max_steps, (int, np.integer)) and max_steps >= 1):
        raise ValueError(f"max_steps must be a positive integer, got {max_steps!r}")
    fixed = fixed_mask(atoms)
    system = system_from_atoms(model.species, atoms, existence(atoms))
    neighbors = NeighborList(model.cutoff, skin)
    calls = [0]

    def f(v):
        x = v.reshape(-1, 3)
        E, dE_dx, _ = model.evaluate(system.species, x, system.q, neighbors.update(x, system.cell, system.pbc))
        calls[0] += 1
        return E, dE_dx.ravel()

    result = minimize(f, system.positions.ravel(), jac=True, method="L-BFGS-B",
                      bounds=_position_bounds(system.positions, fixed), options=dict(maxiter=max_steps, gtol=fmax))
    relaxed = atoms.copy()
    relaxed.positions = result.x.reshape(-1, 3)
    relaxed.wrap()
    return relaxed, float(result.fun), calls[0]


def existence(atoms):
    """(N,) the existences of a structure: ``atoms.arrays["existence"]``, or all ones. In a
    restart's discrete structures a removable template atom that was removed stays in
    place at q = 0 (so the template keeps its indices) until the restart returns."""
    return np.array(atoms.arrays["existence"], dtype=float) if "existence" in atoms.arrays else np.ones(len(atoms))


def polish(problem, atoms, energy):
    r"""Remove added atoms (and removable template atoms) while that lowers ΔG: a greedy
    descent over compositions.

    An atom at q = 0 changes nothing, so ΔG with an added atom's existence set to 0, at
    the same positions, is exactly ΔG of the structure without that atom: removing atom i
    changes ΔG by :math:`E(q_i = 0) - E + \mu_{Z_i}`. The atom whose removal lowers ΔG
    most is removed and the rest screened again, until no removal lowers ΔG; the
    structure is then relaxed (which lowers ΔG further) and screened again, until a
    relaxation leaves nothing to remove. A screening costs one energy evaluation per
    added atom. ``atoms``: template (the first ``len(problem.template)`` atoms) + added
    atoms, relaxed, with energy ``energy``. Returns ``(atoms, energy, n_evaluations)``.

    Why: the fractional stage rarely dissolves a cluster of candidates that has grown to
    q = 1, because its atoms bind each other, even when the cluster costs more than the
    reservoirs give for it (see :func:`restart_candidates`).
    """
    evaluations = 0
    while True:
        atoms, energy, n, removed = _remove_while_lowering(problem, atoms, energy)
        evaluations += n
        if not removed:
            return atoms, energy, evaluations
        n_t = len(problem.template)
        atoms.set_constraint(FixAtoms(mask=np.r_[problem.fixed, np.zeros(len(atoms) - n_t, bool)]))
        atoms, energy, n = relax(problem.model, atoms, fmax=problem.fmax_relax, max_steps=problem.max_steps,
                                 skin=problem.skin)
        evaluations += n


def _remove_while_lowering(problem, atoms, energy):
    """The screening of :func:`polish` at fixed positions: ``(atoms, energy, n_evaluations,
    how many atoms were removed)``. An added atom is deleted; a removable template atom is
    set to q = 0 (see :func:`existence`)."""
    n_t, model = len(problem.template), problem.model
    mu_t = problem.template_potentials()
    evaluations = removed = 0
    while True:
        system = system_from_atoms(model.species, atoms, existence(atoms))
        present = [i for i in problem.removable if system.q[i] == 1.0] + list(range(n_t, len(atoms)))
        if not present:
            break
        graph = build_graph(system.positions, system.cell, system.pbc, model.cutoff)
        mu_c = np.array([problem.mu[s] for s in atoms.get_chemical_symbols()[n_t:]])
        dG = free_energy(energy, system.q, mu_c, n_t, problem.template_energy, mu_template=mu_t)
        E_without = np.empty(len(present))  # E with atom i at q = 0: the structure without it
        dG_without = np.empty(len(present))
        for k, i in enumerate(present):
            q = system.q.copy()
            q[i] = 0.0
            E_without[k] = model.evaluate(system.species, system.positions, q, graph, gradients=False)
            dG_without[k] = free_energy(E_without[k], q, mu_c, n_t, problem.template_energy, mu_template=mu_t)
        evaluations += len(present)
        k = int(np.argmin(dG_without))
        if dG_without[k] >= dG - 1e-9:
            break
        energy = float(E_without[k])
        if present[k] >= n_t:
            del atoms[present[k]]
        else:
            atoms.set_array("existence", np.where(np.arange(len(atoms)) == present[k], 0.0, system.q))
        removed += 1
    return atoms, energy, evaluations, removed


#: The moves of :func:`perturb` and how often each is drawn (renormalised over the moves
#: that apply: nothing to move or rattle on the bare template, nothing to add when every
#: candidate is there, no vacancy to shift until a removable template atom has gone, so
#: that a search without removable atoms draws as if ``shift`` did not exist). No move
#: removes an atom: the polish after each move does that, exactly and only where it
#: lowers ΔG. It removes one atom at a time, and it never puts one back: moving a vacancy
#: to where it lowers ΔG is what ``shift`` is for.
MOVES = {"rattle": 0.45, "move": 0.3, "add": 0.25, "shift": 0.25}
NEIGHBOUR = 1.2  # removable sites within this factor of the shortest distance between two are neighbours
RATTLE = 0.5  # Å, standard deviation of the rattle of the added atoms
HOP_FMAX = 0.05  # eV/Å, the relaxation of a trial (a third fewer calls than 0.02; AGOX relaxes to the same)


def _free_site(problem, atoms, symbol, rng, tries=200):
    """A random point of the region at least :func:`refgc.contacts.placement_distance` from
    every atom of ``atoms`` (periodic in x and y), or None if ``tries`` draws found none."""
    cell = problem.template.cell[:]
    z_lo, z_hi = problem.region
    d_min = np.array([placement_distance(symbol, s) for s in atoms.get_chemical_symbols()])
    for _ in range(tries):
        p = rng.uniform(0, 1, 2) @ cell[:2] + [0.0, 0.0, rng.uniform(z_lo, z_hi)]
        if np.all(get_distances(p, atoms.positions, cell=cell, pbc=(True, True, False))[1][0] >= d_min):
            return p
    return None


def perturb(problem, atoms, rng):
    """One random move of ``atoms`` (template atoms are never moved, only shifted as vacancies):

    * ``rattle``: every added atom moves by a Gaussian of ``RATTLE`` Å per coordinate;
    * ``move``: one added atom jumps to a free site of the region;
    * ``add``: one atom of a species with fewer added atoms than it has candidates in
      ``problem.candidates`` comes to a free site of the region;
    * ``shift``: every removed template atom comes back, and for each a neighbouring
      removable atom that is there (within ``NEIGHBOUR`` times the shortest distance
      between two removable sites), drawn at random, goes instead: the vacancies move one
      site each, together. A pattern of vacancies can lower ΔG where each vacancy moved
      alone would raise it (on Cu(100)–O, docs/facets.md);

    drawn with the weights of :data:`MOVES`. A free site is a random point of the region at
    least :func:`refgc.contacts.placement_distance` from every atom that is there (removed
    template atoms, at q = 0, do not count). Returns ``(moved copy, the move's name)``, the
    name ``None`` when no move applies; the copy has no constraints (:func:`_settle` sets them)."""
    n_t = len(problem.template)
    atoms = atoms.copy()
    atoms.set_constraint()
    there = existence(atoms) > 0
    added = atoms.get_chemical_symbols()[n_t:]
    room = [s for s in sorted(set(problem.candidates)) if added.count(s) < problem.candidates.count(s)]
    gone = [i for i in problem.removable if not there[i]]
    applies = {"rattle": added, "move": added, "add": room, "shift": gone and len(gone) < len(problem.removable)}
    allowed = {m: w for m, w in MOVES.items() if applies[m]}
    if not allowed:  # nothing added, nothing to add, no vacancy to shift
        return atoms, None
    names = list(allowed)
    move = names[rng.choice(len(names), p=np.array(list(allowed.values())) / sum(allowed.values()))]
    if move == "rattle":
        atoms.positions[n_t:] += rng.normal(0.0, RATTLE, (len(added), 3))
    elif move == "move":
        k = n_t + rng.integers(len(added))
        others = atoms[[i for i in range(len(atoms)) if i != k and there[i]]]
        site = _free_site(problem, others, added[k - n_t], rng)
        if site is not None:
            atoms.positions[k] = site
    elif move == "shift":
        atoms.set_array("existence", _shift_vacancies(problem, atoms, there, rng))
    else:
        symbol = room[rng.integers(len(room))]
        site = _free_site(problem, atoms[there], symbol, rng)
        if site is not None:
            atoms += Atoms(symbol, positions=[site])
            if "existence" in atoms.arrays:  # ASE fills the new atom's entry with 0
                atoms.arrays["existence"][-1] = 1.0
    return atoms, move


def _shift_vacancies(problem, atoms, there, rng):
    """The existences after the ``shift`` move of :func:`perturb`: each removed removable
    atom, in order, comes back and one of its neighbouring removable atoms that was there
    and has not been taken by an earlier vacancy goes; a vacancy with no such neighbour stays."""
    sites = np.array(problem.removable)
    d = get_distances(atoms.positions[sites], cell=atoms.cell, pbc=atoms.pbc)[1]
    np.fill_diagonal(d, np.inf)
    near = d < NEIGHBOUR * d.min()
    q, taken = existence(atoms), set()
    for k in np.flatnonzero(~there[sites]):
        options = [sites[m] for m in np.flatnonzero(near[k]) if there[sites[m]] and sites[m] not in taken]
        if options:
            target = options[rng.integers(len(options))]
            q[sites[k]], q[target] = 1.0, 0.0
            taken.add(target)
    return q


def _settle(problem, atoms, fmax=None):
    """Relax ``atoms`` (template constraints restored) to ``fmax`` (default
    ``problem.fmax_relax``) and polish it if ``problem.polish``: ``(atoms, energy,
    n_evaluations)``."""
    n_t = len(problem.template)
    atoms.set_constraint(FixAtoms(mask=np.r_[problem.fixed, np.zeros(len(atoms) - n_t, bool)]))
    atoms, energy, n = relax(problem.model, atoms, fmax=fmax or problem.fmax_relax, max_steps=problem.max_steps,
                             skin=problem.skin)
    if problem.polish:
        atoms, energy, m = polish(problem, atoms, energy)
        n += m
    return atoms, energy, n


def gibbs_of(problem, atoms, energy):
    """ΔG (eV per cell) of a discrete structure, template first (removed template atoms at
    q = 0, see :func:`existence`), with energy ``energy``."""
    n_t = len(problem.template)
    mu_added = np.array([problem.mu[s] for s in atoms.get_chemical_symbols()[n_t:]])
    return float(free_energy(energy, existence(atoms), mu_added, n_t, problem.template_energy,
                             mu_template=problem.template_potentials()))


def hop(problem, atoms, energy, rng):
    """Basin hopping over structures and compositions: ``problem.hops`` times, apply one
    :func:`perturb` move to the best structure so far, relax and polish (:func:`_settle`),
    and keep the result if its ΔG is lower. Returns ``(atoms, energy, n_evaluations)``.

    Why: the fractional stage ends in the nearest minimum of ΔG(x, q), and on the default
    model the minima reached from random insertions differ by up to 1 eV per cell at the
    same composition. One move and a relaxation (30–70 evaluations there) cross to a
    neighbouring minimum that a new restart (170–260) seldom reaches: at Δμ_O = −0.5 eV on
    the c(6×2) cell, 16 restarts without hops find no better structure than 8, 8 with 3
    hops each do (docs/searching.md)."""
    gibbs, evaluations, moved = gibbs_of(problem, atoms, energy), 0, False
    for _ in range(problem.hops):
        trial, move = perturb(problem, atoms, rng)
        if move is None:
            break
        trial, trial_energy, n = _settle(problem, trial, max(HOP_FMAX, problem.fmax_relax))
        evaluations += n
        trial_gibbs = gibbs_of(problem, trial, trial_energy)
        if trial_gibbs < gibbs - 1e-6:
            atoms, energy, gibbs, moved = trial, trial_energy, trial_gibbs, True
    if moved:  # the trials are relaxed to HOP_FMAX; the answer to problem.fmax_relax
        atoms, energy, n = _settle(problem, atoms)
        evaluations += n
    return atoms, energy, evaluations


def run_restart(problem, restart, seed):
    """One restart from ``seed`` (anything ``numpy.random.default_rng`` takes)."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    atoms, q_c = insert(problem, rng, restart_candidates(problem, restart))
    n_t, removable = len(problem.template), list(problem.removable)
    q_r = rng.uniform(*problem.existence, len(removable))  # drawn after the candidates': nothing removable, same run
    f = Objective(problem, atoms.get_chemical_symbols())
    q0 = np.r_[np.ones(n_t), q_c]
    q0[removable] = q_r
    trajectory = [(atoms.positions.copy(), q0)]
    x, q = trajectory[0]
    if len(f.variable):  # the fractional stage
        iterations = [0]

        def record(v):  # called by L-BFGS-B after each iteration
            iterations[0] += 1
            if iterations[0] % problem.record_every == 0:
                trajectory.append(tuple(a.copy() for a in f.split(v)))

        kappa = problem.existence_scale
        v0 = np.r_[atoms.positions.ravel(), kappa * q0[f.variable]]
        bounds = _position_bounds(atoms.positions, problem.fixed, problem.region) + [(0.0, kappa)] * len(f.variable)
        options = dict(maxiter=problem.max_steps, gtol=problem.fmax_fractional)
        result = minimize(f, v0, jac=True, method="L-BFGS-B", bounds=bounds, callback=record, options=options)
        x, q = f.split(result.x)
        trajectory.append((x.copy(), q.copy()))

    keep = np.r_[np.ones(n_t, bool), q[n_t:] >= 0.5]  # discretise
    final = atoms[keep]
    final.positions = x[keep]
    if removable:  # a removed template atom stays in place at q = 0 until the end (see existence)
        final.set_array("existence", np.r_[np.where(q[:n_t] >= 0.5, 1.0, 0.0), np.ones(len(final) - n_t)])
    final, E, n_settle = _settle(problem, final)  # relax, and polish
    final, E, n_hops = hop(problem, final, E, rng)
    gibbs = gibbs_of(problem, final, E)
    added = final.get_chemical_symbols()[n_t:]
    removed = {}
    if removable:  # the removed template atoms leave the structure now
        present = existence(final) > 0
        symbols = problem.template.get_chemical_symbols()
        removed = {s: sum(symbols[i] == s and not present[i] for i in removable)
                   for s in sorted({symbols[i] for i in removable})}
        final = final[present]
        del final.arrays["existence"]
    return Run(
        restart=restart,
        structure=final,
        gibbs=gibbs,
        composition={s: added.count(s) for s in sorted(set(problem.candidates))},
        removed=removed,
        trajectory=trajectory,
        symbols=atoms.get_chemical_symbols(),
        n_evaluations=f.n_evaluations + n_settle + n_hops,
        seconds=time.perf_counter() - t0,
    )
