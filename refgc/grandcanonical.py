"""Grand canonical optimization: ``refgc.optimize(slab, mu)``.

Runs independent restarts of :func:`refgc.restart.run_restart` (insert candidates, let
L-BFGS-B grow or dissolve them, discretise, relax), serially or on any
``concurrent.futures.Executor`` (a Dask ``distributed.Client`` works too), and ranks what
they found by ΔG. Restart k always uses the k-th child of ``numpy.random.SeedSequence(seed)``,
so a result does not depend on where or in which order the restarts ran.
"""

import math
import os
import sys
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed

import numpy as onp
from ase.constraints import FixAtoms

from .gibbs import chemical_potentials
from .restart import Problem, relax, run_restart
from .results import GCResult, RunStore, problem_key
from .surface import surface_area, top_layer_z

__all__ = ["optimize", "GCResult", "SerialExecutor", "default_candidates"]

# Å² of surface per candidate of each species. Surplus candidates vanish, so a denser start
# costs little, but it puts the model far from its training data: the default model saw
# 0-8 added atoms of each species on the 55 Å² c(6x2) cell, which 7 Å² reproduces (8 each).
AREA_PER_CANDIDATE = 7.0


def default_candidates(slab, species):
    """{symbol: count} for each species: one candidate per 7 Å² of surface (8 on the c(6×2) cell)."""
    n = max(1, math.ceil(surface_area(slab) / AREA_PER_CANDIDATE))
    return {s: n for s in species}


def _check_slab(slab, region, cutoff):
    if len(slab) == 0:
        raise ValueError("the slab is empty")
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


def fixed_mask(slab):
    """(N,) bool: the atoms a ``FixAtoms`` constraint holds; other constraints are refused."""
    fixed = onp.zeros(len(slab), bool)
    for c in slab.constraints:
        if not isinstance(c, FixAtoms):
            raise ValueError(f"unsupported constraint {type(c).__name__} on the slab: only FixAtoms is respected")
        fixed[c.get_indices()] = True
    return fixed


def relaxed_template(model, slab, fixed):
    """The template relaxed with the model (fixed atoms fixed) and its energy, E_slab."""
    bare = Problem(model=model, template=slab, mu={}, candidates=(), region=(0.0, 1.0), template_energy=0.0, fixed=fixed)
    relaxed, E_slab, _ = relax(bare, slab)  # ΔG with E_slab = 0 and no candidates is E
    return relaxed, E_slab


def optimize(slab, mu, *, model=None, candidates=None, region=None, restarts=8, seed=None,
             executor=None, progress=True, output=None, existence=Problem.existence,
             existence_scale=Problem.existence_scale):
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
    :mod:`refgc.restart`). Returns a :class:`GCResult`.
    """
    if model is None:
        from .modelfile import load_model

        model = load_model()
    absolute = chemical_potentials(model, mu)
    candidates = default_candidates(slab, sorted(mu)) if candidates is None else dict(candidates)
    if sum(candidates.values()) == 0:
        raise ValueError("zero candidates: give at least one candidate atom")
    unknown = sorted(set(candidates) - set(absolute))
    if unknown:
        raise ValueError(f"candidates of {', '.join(unknown)}, for which the model has no reference chemical potential")
    top = top_layer_z(slab)
    region = (top + 0.8, top + 3.5) if region is None else tuple(float(z) for z in region)
    _check_slab(slab, region, model.cutoff)
    if not (isinstance(restarts, (int, onp.integer)) and restarts >= 1):
        raise ValueError(f"restarts must be a positive integer, got {restarts!r}")
    existence = tuple(float(v) for v in existence)
    if not (len(existence) == 2 and 0.0 <= existence[0] <= existence[1] <= 1.0):
        raise ValueError(f"existence must be (low, high) with 0 <= low <= high <= 1, got {existence}")
    if not (onp.isfinite(existence_scale) and existence_scale > 0):
        raise ValueError(f"existence_scale must be positive and finite, got {existence_scale}")
    fixed = fixed_mask(slab)
    template, E_slab = relaxed_template(model, slab, fixed)
    problem = Problem(
        model=model, template=template, mu=absolute, template_energy=E_slab, fixed=fixed, region=region,
        candidates=tuple(s for s, n in sorted(candidates.items()) for _ in range(int(n))), existence=existence,
        existence_scale=float(existence_scale),
    )
    store = RunStore(output) if output is not None else None
    stored = store.load() if store is not None else {}
    if seed is None and stored:  # resuming a run that drew its own seed
        seed = int(next(iter(stored.values())).seed[1:])
    sequence = onp.random.SeedSequence(seed)
    keys = [problem_key(problem, sequence.entropy, k) for k in range(restarts)]
    runs = [stored[key] for key in keys if key in stored]
    todo = [(k, s) for k, (key, s) in enumerate(zip(keys, sequence.spawn(restarts))) if key not in stored]
    if progress and runs:
        print(f"[refgc] {len(runs)} of {restarts} restarts already in {output}", file=sys.stderr, flush=True)
    report = _progress(restarts, len(runs)) if progress else (lambda run: None)

    def finished(run):
        run.key, run.seed = keys[run.restart], f"s{sequence.entropy}"  # a letter: kept as text in files
        if store is not None:
            store.add(run, mu)
        report(run)

    runs += _run_all(problem, todo, executor, finished)
    if not runs:
        raise KeyboardInterrupt("interrupted before any restart finished")
    runs.sort(key=lambda r: (r.gibbs, r.restart))
    result = GCResult(runs=runs, area=surface_area(slab), mu=dict(mu))
    if store is not None and not store.is_db:
        result.write_summary(output)
    return result


class SerialExecutor(Executor):
    """Runs each task at ``submit``, in this process: ``optimize(..., executor=SerialExecutor())``."""

    def submit(self, fn, /, *args, **kwargs):
        future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as err:  # noqa: BLE001  (re-raised by future.result())
            future.set_exception(err)
        return future


def single_threaded():
    """Limit this process's BLAS/OpenMP to one thread: the default pool's worker initializer.

    A restart multiplies small matrices, so threads do not help it, and one worker per core
    each starting a BLAS thread per core oversubscribes the machine: measured here with the
    other core busy, the README's main job took 559 s, and 25 s with it. Call it in your own
    workers (e.g. ``ProcessPoolExecutor(initializer=refgc.grandcanonical.single_threaded)``)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def _run_all(problem, todo, executor, finished):
    """Run the restarts ``todo`` = [(index, seed)]; on Ctrl-C return those that finished."""
    own = executor is None
    if hasattr(executor, "get_executor"):  # a Dask distributed.Client: its concurrent.futures face
        executor = executor.get_executor(pure=False)
    if own:
        cores = os.cpu_count() or 1
        executor = (ProcessPoolExecutor(min(len(todo), cores), initializer=single_threaded)
                    if len(todo) > 1 and cores > 1 else SerialExecutor())
    futures, runs, reported = [], [], set()

    def harvest(done):
        for fut in done:
            if fut not in reported:
                reported.add(fut)
                runs.append(fut.result())
                finished(runs[-1])

    try:
        for k, s in todo:
            futures.append(executor.submit(run_restart, problem, k, s))
            harvest([f for f in futures if f.done()])  # a serial executor reports as it goes
        harvest(as_completed(futures))
    except KeyboardInterrupt:
        for fut in futures:
            fut.cancel()
    finally:
        if own:
            executor.shutdown(wait=False, cancel_futures=True)
    return runs


def _progress(total, before=0):
    done = [before]

    def report(run):
        done[0] += 1
        composition = " ".join(f"{s}{n}" for s, n in run.composition.items())
        print(f"[refgc] restart {run.restart:3d} done ({done[0]}/{total}): ΔG {run.gibbs:+.3f} eV, "
              f"added {composition or 'nothing'}, {run.n_evaluations} evaluations, {run.seconds:.1f} s",
              file=sys.stderr, flush=True)

    return report
