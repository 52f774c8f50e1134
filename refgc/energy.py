"""Energies, gradients and embeddings of an ASE ``Atoms`` with fractional existence.

These are the public entry points to a model. Each one checks its input
(:mod:`refgc.system`), builds or reuses a neighbour list (:mod:`refgc.graph`), and calls
the model's ``evaluate`` (for the SchNet: :mod:`refgc.schnet` differentiated by
autograd, the reference path). ``embeddings`` is specific to the SchNet.

Pass ``neighbors=NeighborList(model.config.cutoff, skin)`` to reuse one list over many
calls on slowly changing positions (an optimiser, an MD run); by default every call
builds its own list with no skin. ``backend="cupy"`` evaluates on a GPU (:mod:`refgc.arrays`);
:func:`energy_and_gradients_batch` evaluates many structures in one call (:mod:`refgc.batch`).
"""

import numpy as np

from . import schnet
from .batch import evaluate_batch, on_backend
from .graph import NeighborList
from .system import check_model, system_from_atoms

__all__ = ["energy", "energy_and_gradients", "energy_and_gradients_batch", "embeddings"]


def _prepare(model, atoms, q, neighbors):
    system = system_from_atoms(check_model(model).species, atoms, q)
    if neighbors is None:
        neighbors = NeighborList(model.cutoff, skin=0.0)
    elif neighbors.cutoff < model.cutoff:
        raise ValueError(f"neighbour list cutoff {neighbors.cutoff} Å < model cutoff {model.cutoff} Å")
    graph = neighbors.update(system.positions, system.cell, system.pbc)
    return system, graph


def energy(model, atoms, q=None, *, neighbors=None, backend="numpy"):
    """E(x, q) in eV. ``q=None``: ``atoms.arrays["existence"]`` if present, else all ones.
    ``backend``: ``"numpy"`` or ``"cupy"`` (a GPU)."""
    system, graph = _prepare(model, atoms, q, neighbors)
    return on_backend(model, backend).evaluate(system.species, system.positions, system.q, graph, gradients=False)


def energy_and_gradients(model, atoms, q=None, *, neighbors=None, backend="numpy"):
    """``(E, dE_dx, dE_dq)``: eV, (N, 3) eV/Å (the forces are ``-dE_dx``), (N,) eV.
    ``backend``: ``"numpy"`` or ``"cupy"`` (a GPU)."""
    system, graph = _prepare(model, atoms, q, neighbors)
    return on_backend(model, backend).evaluate(system.species, system.positions, system.q, graph)


def energy_and_gradients_batch(model, structures, qs=None, *, backend="numpy"):
    """``(E (S,), [dE_dx], [dE_dq])`` of S structures (``ase.Atoms``) in one call: one
    disjoint graph, an energy per structure and each structure's gradients, equal to
    :func:`energy_and_gradients` of each up to rounding. ``qs``: one existence array per
    structure (``None``: each one's ``existence`` array, or ones)."""
    check_model(model)
    if not hasattr(model, "params_on"):
        raise ValueError(f"batched evaluation needs a refgc Model (the SchNet), got {type(model).__name__}")
    structures = list(structures)
    if not structures:
        raise ValueError("structures is empty: give at least one ase.Atoms")
    qs = [None] * len(structures) if qs is None else list(qs)
    if len(qs) != len(structures):
        raise ValueError(f"{len(qs)} existence arrays for {len(structures)} structures")
    requests = []
    for atoms, q in zip(structures, qs):
        system, graph = _prepare(model, atoms, q, None)
        requests.append((system.species, system.positions, system.q, graph))
    answers = evaluate_batch(model, requests, backend=backend)
    return np.array([a[0] for a in answers]), [a[1] for a in answers], [a[2] for a in answers]


def embeddings(model, atoms, q=None, *, neighbors=None):
    """Per-layer atom embeddings ``[h⁰, h¹, …, h^T]``, each (N, n_features)."""
    system, graph = _prepare(model, atoms, q, neighbors)
    d = schnet.pair_distances(system.positions, graph)
    layers = schnet.atom_embeddings(model.params, model.config, system.species, system.q, graph, d)
    return [np.asarray(h) for h in layers]
