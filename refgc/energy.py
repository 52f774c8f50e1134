"""Energies, gradients and embeddings of an ASE ``Atoms`` with fractional existence.

These are the public entry points to a model. Each one checks its input
(:mod:`refgc.system`), builds or reuses a neighbour list (:mod:`refgc.graph`), and calls
the model's ``evaluate`` (for the SchNet: :mod:`refgc.schnet` differentiated by
autograd, the reference path). ``embeddings`` is specific to the SchNet.

Pass ``neighbors=NeighborList(model.config.cutoff, skin)`` to reuse one list over many
calls on slowly changing positions (an optimiser, an MD run); by default every call
builds its own list with no skin.
"""

import numpy as np

from . import schnet
from .graph import NeighborList
from .system import check_model, system_from_atoms

__all__ = ["energy", "energy_and_gradients", "embeddings"]


def _prepare(model, atoms, q, neighbors):
    system = system_from_atoms(check_model(model).species, atoms, q)
    if neighbors is None:
        neighbors = NeighborList(model.cutoff, skin=0.0)
    elif neighbors.cutoff < model.cutoff:
        raise ValueError(f"neighbour list cutoff {neighbors.cutoff} Å < model cutoff {model.cutoff} Å")
    graph = neighbors.update(system.positions, system.cell, system.pbc)
    return system, graph


def energy(model, atoms, q=None, *, neighbors=None):
    """E(x, q) in eV. ``q=None``: ``atoms.arrays["existence"]`` if present, else all ones."""
    system, graph = _prepare(model, atoms, q, neighbors)
    return model.evaluate(system.species, system.positions, system.q, graph, gradients=False)


def energy_and_gradients(model, atoms, q=None, *, neighbors=None):
    """``(E, dE_dx, dE_dq)``: eV, (N, 3) eV/Å (the forces are ``-dE_dx``), (N,) eV."""
    system, graph = _prepare(model, atoms, q, neighbors)
    return model.evaluate(system.species, system.positions, system.q, graph)


def embeddings(model, atoms, q=None, *, neighbors=None):
    """Per-layer atom embeddings ``[h⁰, h¹, …, h^T]``, each (N, n_features)."""
    system, graph = _prepare(model, atoms, q, neighbors)
    d = schnet.pair_distances(system.positions, graph)
    layers = schnet.atom_embeddings(model.params, model.config, system.species, system.q, graph, d)
    return [np.asarray(h) for h in layers]
