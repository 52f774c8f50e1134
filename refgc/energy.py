"""Energies, gradients and embeddings of an ASE ``Atoms`` with fractional existence.

These are the public entry points to the model. Each one checks its input
(:mod:`refgc.system`), builds or reuses a neighbour list (:mod:`refgc.graph`), and
evaluates :mod:`refgc.schnet`; gradients come from autograd, the reference path.

Pass ``neighbors=NeighborList(model.config.cutoff, skin)`` to reuse one list over many
calls on slowly changing positions (an optimiser, an MD run); by default every call
builds its own list with no skin.
"""

import numpy as onp
from autograd import value_and_grad

from . import schnet
from .graph import NeighborList
from .system import system_from_atoms

__all__ = ["energy", "energy_and_gradients", "embeddings"]


def _prepare(model, atoms, q, neighbors):
    system = system_from_atoms(model.species, atoms, q)
    if neighbors is None:
        neighbors = NeighborList(model.config.cutoff, skin=0.0)
    elif neighbors.cutoff < model.config.cutoff:
        raise ValueError(f"neighbour list cutoff {neighbors.cutoff} Å < model cutoff {model.config.cutoff} Å")
    graph = neighbors.update(system.positions, system.cell, system.pbc)
    return system, graph


def _energy_function(model, system, graph):
    """E as a function of (positions, q) alone, for autograd."""

    def f(positions, q):
        return schnet.total_energy(model.params, model.config, system.species, positions, q, graph)

    return f


def energy(model, atoms, q=None, *, neighbors=None):
    """E(x, q) in eV. ``q=None``: ``atoms.arrays["existence"]`` if present, else all ones."""
    system, graph = _prepare(model, atoms, q, neighbors)
    return float(_energy_function(model, system, graph)(system.positions, system.q))


def energy_and_gradients(model, atoms, q=None, *, neighbors=None):
    """``(E, dE_dx, dE_dq)``: eV, (N, 3) eV/Å (the forces are ``-dE_dx``), (N,) eV."""
    system, graph = _prepare(model, atoms, q, neighbors)
    f = _energy_function(model, system, graph)
    E, (dE_dx, dE_dq) = value_and_grad(f, argnum=(0, 1))(system.positions, system.q)
    return float(E), onp.asarray(dE_dx), onp.asarray(dE_dq)


def embeddings(model, atoms, q=None, *, neighbors=None):
    """Per-layer atom embeddings ``[h⁰, h¹, …, h^T]``, each (N, n_features)."""
    system, graph = _prepare(model, atoms, q, neighbors)
    d = schnet.pair_distances(system.positions, graph)
    layers = schnet.atom_embeddings(model.params, model.config, system.species, system.q, graph, d)
    return [onp.asarray(h) for h in layers]
