"""Many structures in one call, and restarts that share one device.

**Batched evaluation.** Structures side by side make one disjoint graph: the atoms of
structure s are shifted by the atoms before it, and the layout stays every structure's
unordered pairs followed by all their reverses, so the filters are still computed once
per unordered pair. No pair joins two structures, so the gradient of the summed energy is
each structure's own gradient; only the energy is summed per structure
(:func:`refgc.backward.energy_and_gradients` with ``structures``).

A batch computes what the structures alone compute up to rounding (about 1e-15 relative,
tested): BLAS sums a row of a matrix product in an order that depends on the row's place
in the matrix, so a structure's rows give other last digits at another offset.

**Lockstep.** :class:`Lockstep` stands in for the model in R restarts run in R threads
(``optimize(..., lockstep=True)``). Each thread's evaluation waits until every restart
still running has asked for one; then one call answers them all, and the next step
begins. Every step holds the next request of every live restart, in restart order,
whatever the threads' timing, so a run is reproducible. ``batched=False`` answers the
requests of a step one by one with the model: each restart then computes exactly what
it computes alone (tested, bit for bit), which is the default on NumPy, where a batch
buys little. ``batched=True`` (the default on a device) answers them with one batched
call: the same numbers up to rounding, and since L-BFGS-B and the discretisation
amplify the last digits over hundreds of steps, a restart may end in another minimum
than alone (measured in docs/performance.md).
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import backward
from .arrays import backend_namespace, is_numpy, to_device, to_host
from .graph import Graph
from .memory import keep_freed_memory
from .scatter import Segments

__all__ = ["batch_graph", "evaluate_batch", "OnBackend", "on_backend", "Lockstep"]


def batch_graph(graphs, sizes):
    """``(graph, structures)``: the disjoint graph of structures with ``sizes`` atoms and
    neighbour graphs ``graphs`` (each in the half/reversed layout), and the
    :class:`~refgc.scatter.Segments` that maps its atoms to their structure. The last one
    is kept: Verlet lists hand back the same graphs for many steps, and so does a batch."""
    key = (tuple(map(id, graphs)), tuple(sizes))
    if _last and _last[0] == key:
        return _last[2]
    _last[:] = [key, graphs, _batch_graph(graphs, sizes)]  # the graphs kept, so no id is reused
    return _last[2]


_last = []  # [key, graphs, (graph, structures)] of the last batch_graph call


def _batch_graph(graphs, sizes):
    starts = np.cumsum([0, *sizes])
    half = [(g.i[: g.n_half] + a, g.j[: g.n_half] + a, g.offsets[: g.n_half]) for g, a in zip(graphs, starts)]
    i, j, offsets = (np.concatenate(parts) for parts in zip(*half))
    graph = Graph.from_half(i, j, offsets, int(starts[-1]))
    return graph, Segments(np.repeat(np.arange(len(sizes)), sizes), len(sizes))


def evaluate_batch(model, requests, dtype="float64", backend="numpy"):
    """``[(E, ∂E/∂x, ∂E/∂q), ...]`` of a refgc ``Model`` for ``requests``, a list of
    ``(species, positions, q, graph)`` as :meth:`refgc.Model.evaluate` takes them, in one
    call of the backward pass on ``backend``."""
    keep_freed_memory()
    xp = backend_namespace(backend)
    sizes = [len(r[0]) for r in requests]
    graph, structures = batch_graph([r[3] for r in requests], sizes)
    species, positions, q = (np.concatenate([r[k] for r in requests]) for k in range(3))
    params = model.params
    if not is_numpy(xp):
        params = model.params_on(xp)
        species, positions, q, graph = to_device(xp, species), to_device(xp, positions), to_device(xp, q), graph.to(xp)
    E, dx, dq = backward.energy_and_gradients(params, model.config, species, positions, q, graph, dtype,
                                              structures=structures)
    E, dx, dq = to_host(E), to_host(dx), to_host(dq)
    cut = np.cumsum(sizes)[:-1]
    return [(float(e), x, g) for e, x, g in zip(E, np.split(dx, cut), np.split(dq, cut))]


class OnBackend:
    """A model whose evaluations run on ``backend``: what the search and the calculator
    hold in place of the model (:func:`on_backend`)."""

    def __init__(self, model, backend):
        backend_namespace(backend)  # a clear error now, not in a restart
        if not hasattr(model, "params_on"):
            raise ValueError(f"backend={backend!r} needs a refgc Model (the SchNet), got {type(model).__name__}")
        self.model, self.backend = model, backend

    def __getattr__(self, name):  # species, mu_ref, cutoff, config, params, ...
        if name in ("model", "backend"):
            raise AttributeError(name)
        return getattr(self.model, name)

    def evaluate(self, species, positions, q, graph, gradients=True, **options):
        return self.model.evaluate(species, positions, q, graph, gradients, backend=self.backend, **options)


def on_backend(model, backend):
    """``model`` itself for ``backend="numpy"``, else an :class:`OnBackend` of it."""
    if isinstance(backend, str) and backend == "numpy":
        return model
    return OnBackend(model, backend)


class Lockstep:
    """A model shared by restarts in threads, one call per step (see the module docstring).

    ``model``: a refgc ``Model`` (or an :class:`OnBackend` of one). ``batched``: one batched
    call per step (default: on a device) or the requests one by one (default on NumPy)."""

    def __init__(self, model, batched=None):
        self.model = model
        self.backend = getattr(model, "backend", "numpy")
        self.batched = not is_numpy(backend_namespace(self.backend)) if batched is None else batched
        self._step = threading.Condition()
        self._live, self._pending, self._answers = set(), {}, {}
        self._member = threading.local()
        self.n_steps = 0

    def __getattr__(self, name):  # species, mu_ref, cutoff, config, params, ...
        if name in ("model", "backend", "batched"):
            raise AttributeError(name)
        return getattr(self.model, name)

    def __getstate__(self):
        raise TypeError("a Lockstep model runs restarts in threads of one process: it cannot be sent elsewhere")

    def executor(self, n):
        """A thread pool for ``n`` tasks, each one member of the lockstep; every member is
        counted from the start, so that the first step waits for all of them."""
        members = list(range(n))
        with self._step:
            self._live.update(members)
        lockstep, pool = self, ThreadPoolExecutor(max_workers=max(1, n))
        submit = pool.submit

        def run_as(member, fn, *args):
            lockstep._member.k = member
            try:
                return fn(*args)
            finally:
                lockstep._leave(member)

        pool.submit = lambda fn, *args: submit(run_as, members.pop(0), fn, *args)
        return pool

    def evaluate(self, species, positions, q, graph, gradients=True):
        k = self._member.k
        with self._step:
            self._pending[k] = (species, positions, q, graph, gradients)
            self._maybe_step()
            while k not in self._answers:
                self._step.wait()
            answer = self._answers.pop(k)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def _leave(self, k):
        with self._step:
            self._live.discard(k)
            self._maybe_step()

    def _maybe_step(self):
        """Answer the step once every live member waits (called holding the lock)."""
        if not self._pending or len(self._pending) < len(self._live):
            return
        members = sorted(self._pending)
        requests = [self._pending.pop(k) for k in members]
        try:
            if self.batched:
                model = self.model.model if isinstance(self.model, OnBackend) else self.model
                answers = evaluate_batch(model, [r[:4] for r in requests], backend=self.backend)
                answers = [a if r[4] else a[0] for a, r in zip(answers, requests)]
            else:
                answers = [self.model.evaluate(*r[:4], gradients=r[4]) for r in requests]
        except Exception as err:  # noqa: BLE001  (raised in every member's thread)
            answers = [err] * len(members)
        self._answers.update(zip(members, answers))
        self.n_steps += 1
        self._step.notify_all()
