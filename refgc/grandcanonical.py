"""Grand canonical optimization: ``refgc.optimize(slab, mu)``.

Runs independent restarts of :func:`refgc.search.run_restart` (insert candidates, let
L-BFGS-B grow or dissolve them, discretise, relax), serially or on any
``concurrent.futures.Executor`` (a Dask ``distributed.Client`` works too; see
:mod:`refgc.parallel`), and ranks what they found by ΔG. Restart k always uses the k-th child of ``numpy.random.SeedSequence(seed)``,
so a result does not depend on where or in which order the restarts ran.
"""

import math
import sys
from collections.abc import Mapping
from dataclasses import replace
from functools import partial

import numpy as np
from tqdm.auto import tqdm

from .batch import Lockstep, on_backend
from .gibbs import chemical_potentials, check_removable, template_potentials
from .parallel import SerialExecutor, run_all
from .results import GCResult, Run, RunStore, problem_key
from .search import Problem, check_fit, fixed_mask, relax, run_restart
from .surface import surface_area, top_layer, top_layer_z
from .system import check_atoms, check_count, check_model, check_real, species_indices

__all__ = ["optimize", "default_candidates", "top_layer", "removable_indices"]

# Å² of surface per candidate of each species. Surplus candidates vanish, so a denser start
# costs little, but it puts the model far from its training data: the default model saw
# 0-8 added atoms of each species on the 55 Å² c(6x2) cell, which 7 Å² reproduces (8 each).
AREA_PER_CANDIDATE = 7.0


def default_candidates(slab, species):
    """{symbol: count} for each species: one candidate per 7 Å² of surface (8 on the c(6×2) cell)."""
    n = max(1, math.ceil(surface_area(slab) / AREA_PER_CANDIDATE))
    return {s: n for s in species}


def _check_candidates(candidates):
    """{symbol: count}, every count a non-negative integer (2.7 is not silently 2)."""
    if not isinstance(candidates, Mapping):
        raise ValueError(f"candidates must be a mapping {{symbol: count}}, got {candidates!r}")
    return {s: check_count(n, f"the number of {s} candidates") for s, n in candidates.items()}


def _pair(values, what):
    """(a, b) as two real, finite floats."""
    try:
        a, b = values
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a pair (low, high), got {values!r}") from None
    return check_real(a, what), check_real(b, what)


def _flag(value, what):
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{what} must be True or False, got {value!r}")
    return bool(value)


def removable_indices(removable, slab):
    """``removable`` (None, "top" or indices) as a sorted tuple of template indices. "top"
    leaves out fixed atoms; indices may name them (a fixed atom keeps its place while its
    existence changes)."""
    if removable is None:
        return ()
    if isinstance(removable, str):
        if removable != "top":
            raise ValueError(f"removable must be 'top' or template atom indices, got {removable!r}")
        fixed = fixed_mask(slab)
        removable = [i for i in top_layer(slab) if not fixed[i]]
        if not removable:
            raise ValueError("removable='top': every atom of the top layer is fixed (FixAtoms)")
    return check_removable(removable, len(slab))


def _check_removable(removable, slab, absolute):
    """:func:`removable_indices`, each of a species with a reference chemical potential."""
    removable = removable_indices(removable, slab)
    template_potentials(slab.get_chemical_symbols(), removable, absolute)  # a species without μ
    return removable


def _check_slab(slab, region, cutoff):
    if not (slab.pbc[0] and slab.pbc[1]):
        raise ValueError("the slab must be periodic along x and y (pbc = (True, True, ...))")
    top = top_layer_z(slab)
    z_lo, z_hi = region
    if not z_lo < z_hi:
        raise ValueError(f"region must be (z_low, z_high) with z_low < z_high, got {region}")
    if z_lo <= top:
        raise ValueError(f"the region z ∈ [{z_lo:.2f}, {z_hi:.2f}] Å overlaps the slab, whose top atom is at z = {top:.2f} Å")
    height, bottom = slab.cell[2, 2], slab.positions[:, 2].min()
    if height > 0 and z_hi >= height:
        raise ValueError(f"no vacuum above the slab: the region reaches z = {z_hi:.2f} Å, the cell only {height:.2f} Å")
    if slab.pbc[2] and bottom + height - z_hi < cutoff:
        raise ValueError(
            f"no vacuum above the slab: with pbc along z, the region's top is {bottom + height - z_hi:.2f} Å "
            f"from the slab's periodic image, less than the model's cutoff {cutoff} Å"
        )


def optimize(slab, mu, *, model=None, candidates=None, region=None, restarts=8, seed=None,
             executor=None, progress=True, output=None, existence=Problem.existence,
             existence_scale=Problem.existence_scale, mixtures=Problem.mixtures, polish=Problem.polish,
             hops=Problem.hops, removable=None, backend="numpy", lockstep=False):
    """Grow the atoms that stabilise ``slab`` at chemical potentials ``mu``.

    ``mu``: {symbol: Δμ in eV} relative to the model's references (Δμ = 0 for species not
    named). ``model``: default, the shipped model. ``candidates``: {symbol: count},
    default one per 7 Å² of surface for each species in ``mu``. ``region``: (z_low,
    z_high) of the candidates, default from 0.8 to 3.5 Å above the top atom.
    ``executor``: a ``concurrent.futures.Executor`` or a Dask ``distributed.Client``;
    default a process pool when there is more than one restart and more than one core.
    ``output``: a folder or an ASE database (``.db``) where each finished restart is
    written at once; running again with the same output and seed resumes (see
    :mod:`refgc.results`). Ctrl-C returns what has finished. ``existence``: (low, high),
    the candidates' initial existences are drawn from U(low, high). ``existence_scale``:
    κ, L-BFGS-B works on κ·q (κ > 1: existences change more slowly than positions; see
    :mod:`refgc.search`). ``mixtures``: restarts after the first insert their own share of
    each species' candidates (:func:`refgc.search.restart_candidates`). ``polish``: after
    the relaxation, remove added atoms while that lowers ΔG (:func:`refgc.search.polish`).
    ``hops``: basin-hopping steps of each restart after the polish (:func:`refgc.search.hop`).
    ``mixtures=False, polish=False, hops=0`` is the method as published. ``removable``:
    template atoms that may go, ``"top"`` (the top layer's atoms, :func:`top_layer`) or their
    indices; their existences are variables like the candidates', a removed atom returns
    to its reservoir at its μ, and each restart reports what it removed
    (:attr:`Run.removed`). ``backend``: where the model runs, ``"numpy"`` or ``"cupy"`` (a
    GPU; the restarts then run in this process, see :mod:`refgc.arrays`). ``lockstep``: the
    restarts run in threads of this process and share the model, one call per step
    (:class:`refgc.batch.Lockstep`: on NumPy each restart computes exactly what it does
    alone; on a device, or with ``lockstep="batched"``, one batched call answers every
    restart, equal to rounding). Returns a
    :class:`GCResult`, whose answers include the relaxed template itself (ΔG = 0 by
    definition): a result is never worse than adding nothing.
    """
    # every argument is checked here, before the template relaxation: cheap things first
    if model is None:
        from .modelfile import load_model

        model = load_model()
    check_model(model)
    check_atoms(slab, "slab")
    absolute = chemical_potentials(model, mu)
    mu = dict(mu or {})
    candidates = default_candidates(slab, sorted(mu)) if candidates is None else _check_candidates(candidates)
    fixed = fixed_mask(slab)
    removable = _check_removable(removable, slab, absolute)
    if sum(candidates.values()) == 0 and not removable:
        raise ValueError("zero candidates: give at least one candidate atom (or removable template atoms)")
    unknown = sorted(set(candidates) - set(absolute))
    if unknown:
        raise ValueError(f"candidates of {', '.join(unknown)}, for which the model has no reference chemical potential")
    species_indices(slab.get_chemical_symbols(), model.species)  # an element the model does not know
    top = top_layer_z(slab)
    region = (top + 0.8, top + 3.5) if region is None else _pair(region, "region")
    _check_slab(slab, region, model.cutoff)
    check_count(restarts, "restarts", minimum=1)
    if seed is not None:
        check_count(seed, "seed")
    existence = _pair(existence, "existence")
    if not 0.0 <= existence[0] <= existence[1] <= 1.0:
        raise ValueError(f"existence must be (low, high) with 0 <= low <= high <= 1, got {existence}")
    existence_scale = check_real(existence_scale, "existence_scale", positive=True)
    hops = check_count(hops, "hops")
    check_fit(sum(candidates.values()), slab, region, Problem.min_distance)
    if lockstep not in (False, True, "batched"):
        raise ValueError(f"lockstep must be False, True or 'batched', got {lockstep!r}")
    if lockstep and executor is not None:
        raise ValueError("lockstep=True runs the restarts in its own threads: give no executor")
    model = on_backend(model, backend)  # a bad backend is one clear error here
    template, E_slab, _ = relax(model, slab)  # E_slab: the template relaxed with the same model
    problem = Problem(
        model=model, template=template, mu=absolute, template_energy=E_slab, fixed=fixed, region=region,
        candidates=tuple(s for s, n in sorted(candidates.items()) for _ in range(n)), existence=existence,
        existence_scale=existence_scale, mixtures=_flag(mixtures, "mixtures"), polish=_flag(polish, "polish"),
        hops=hops, removable=removable,
    )
    store = RunStore(output) if output is not None else None
    if store is not None:
        store.write_template(template)
    stored = store.load() if store is not None else {}
    if seed is None and stored:  # resuming a run that drew its own seed
        seed = int(next(iter(stored.values())).seed[1:])
    sequence = np.random.SeedSequence(seed)
    keys = [problem_key(problem, slab, sequence.entropy, k) for k in range(restarts)]
    runs = [stored[key] for key in keys if key in stored]
    todo = [(k, s) for k, (key, s) in enumerate(zip(keys, sequence.spawn(restarts))) if key not in stored]
    if lockstep:
        problem = replace(problem, model=Lockstep(problem.model, batched=True if lockstep == "batched" else None))
        executor = problem.model.executor(len(todo))
    elif executor is None and not (isinstance(backend, str) and backend == "numpy"):
        executor = SerialExecutor()  # one device: processes would each hold a copy of the model there
    bar = tqdm(total=restarts, initial=len(runs), unit="restart", desc="refgc", disable=not progress)

    def finished(run):
        run.key, run.seed = keys[run.restart], f"s{sequence.entropy}"  # a letter: kept as text in files
        if store is not None:
            store.add(run, mu)
        if progress:
            bar.write(f"restart {run.restart:3d}: ΔG {run.gibbs:+.3f} eV, {run.describe()}, "
                      f"{run.n_evaluations} evaluations, {run.seconds:.1f} s", file=sys.stderr)
        bar.update()

    with bar:
        runs += run_all(partial(run_restart, problem), todo, executor, finished)
    if lockstep:
        executor.shutdown()
    if not runs:
        raise KeyboardInterrupt("interrupted before any restart finished")
    runs.sort(key=lambda r: (r.gibbs, r.restart))
    bare = Run(restart=-1, structure=template, gibbs=0.0, composition={s: 0 for s in sorted(candidates)},
               removed={s: 0 for s in sorted({template.get_chemical_symbols()[i] for i in removable})})
    result = GCResult(runs=runs, area=surface_area(slab), mu=mu, template=bare)
    if store is not None and not store.is_db:
        result.write_summary(output)
    return result
