r"""Where does an atom want to be inserted? The insertion map ∂ΔG/∂q of a probe at q = 0.

For a probe atom p of element Z at position x_p with existence q_p = 0,

.. math:: \left.\frac{\partial \Delta G}{\partial q_p}\right|_{q_p = 0} = \left.\frac{\partial E}{\partial q_p}\right|_{q_p = 0} - \mu_Z

is the exact first-order free energy of inserting it there: negative where the surface
wants the atom. Because an atom at q = 0 sends no messages and counts for nothing in the
read-out, probes at q = 0 do not see each other, and the derivative with respect to each
probe's q is the same with one probe or with a whole grid of them. So the map over the
entire surface costs a single gradient evaluation of the slab with every grid point as a
probe; the probe–probe pairs, which contribute exactly zero, are left out of the graph
(a fine grid would otherwise hold millions of them).
"""

from dataclasses import dataclass

import numpy as np
from ase import Atoms

from .batch import on_backend
from .gibbs import chemical_potentials, free_energy
from .graph import Graph, build_graph
from .system import check_atoms, check_model, check_real, system_from_atoms
from .surface import top_layer_z

__all__ = ["insertion_map", "InsertionMap", "probe_gradients"]


@dataclass
class InsertionMap:
    """∂ΔG/∂q (eV) of a q = 0 probe on a grid of the surface cell at height ``z``."""

    positions: np.ndarray  # (n1, n2, 3) Å, the probe positions
    values: np.ndarray  # (n1, n2) eV
    symbol: str
    z: float
    slab: Atoms

    def plot(self, ax=None, repeat=(1, 1), limit=None):
        """Heat map of the values with the slab's top-layer atoms, on matplotlib axes;
        ``repeat`` tiles the surface cell (a thin primitive cell reads better repeated).
        Colours run from −``limit`` to +``limit`` eV, by default the 75th percentile of
        |values|: right above an atom a probe meets the repulsive wall (hundreds of eV),
        which would otherwise wash out the part of the map that matters."""
        import matplotlib.pyplot as plt

        ax = ax or plt.gca()
        limit = float(np.percentile(np.abs(self.values), 75)) if limit is None else limit
        top = self.slab.positions[self.slab.positions[:, 2] > top_layer_z(self.slab) - 1.0]
        a1, a2 = self.slab.cell[0], self.slab.cell[1]
        # close the periodic grid (first row/column again, one cell on) so the tiles meet
        values = np.pad(self.values, ((0, 1), (0, 1)), mode="wrap")
        grid = np.pad(self.positions, ((0, 1), (0, 1), (0, 0)), mode="wrap")
        grid[-1] += a1
        grid[:, -1] += a2
        for n1 in range(repeat[0]):
            for n2 in range(repeat[1]):
                shift = n1 * a1 + n2 * a2
                mesh = ax.pcolormesh(grid[..., 0] + shift[0], grid[..., 1] + shift[1], values, cmap="RdBu",
                                     vmin=-limit, vmax=limit, shading="gouraud")
                ax.scatter(top[:, 0] + shift[0], top[:, 1] + shift[1], s=60, facecolors="none", edgecolors="k", lw=0.8)
        ax.set_aspect("equal")
        ax.set_xlabel("x (Å)")
        ax.set_ylabel("y (Å)")
        ax.figure.colorbar(mesh, ax=ax, label=f"∂ΔG/∂q of {self.symbol} (eV)", extend="both")
        return ax


MAX_PROBES = 1_000_000  # a grid of 0.01 Å over 100 Å²; each probe costs its pairs with the slab


def insertion_map(model, slab, symbol, mu, height=1.5, spacing=0.25, *, backend="numpy"):
    """∂ΔG/∂q of a q = 0 ``symbol`` atom at ``height`` Å above the slab's top atom, on a
    grid of about ``spacing`` Å over the surface cell. ``mu``: {symbol: Δμ} as for
    :func:`refgc.gibbs_free_energy`. ``backend``: ``"numpy"`` or ``"cupy"`` (a GPU)."""
    check_model(model)
    model = on_backend(model, backend)
    check_atoms(slab, "slab")
    height = check_real(height, "height")  # relative to the top atom: 0 or below is allowed
    spacing = check_real(spacing, "spacing", positive=True)
    mu_abs = chemical_potentials(model, mu)
    if symbol not in mu_abs:
        raise ValueError(f"no chemical potential for the probe element {symbol}: the model has no reference for it")
    cell = slab.cell[:]
    n1, n2 = (max(2, int(np.ceil(np.linalg.norm(cell[k]) / spacing))) for k in (0, 1))
    if n1 * n2 > MAX_PROBES:
        raise ValueError(f"spacing {spacing} Å gives a grid of {n1} × {n2} probes, more than {MAX_PROBES:,}: "
                         "give a larger spacing")
    f1, f2 = np.meshgrid(np.arange(n1) / n1, np.arange(n2) / n2, indexing="ij")
    z = top_layer_z(slab) + height
    grid = f1[..., None] * cell[0] + f2[..., None] * cell[1]
    grid[..., 2] = z
    values = probe_gradients(model, slab, symbol, mu_abs[symbol], grid.reshape(-1, 3)).reshape(n1, n2)
    return InsertionMap(positions=grid, values=values, symbol=symbol, z=z, slab=slab.copy())


def probe_gradients(model, atoms, symbol, mu, positions):
    """∂ΔG/∂q (eV) of a q = 0 ``symbol`` probe at each of ``positions`` (M, 3) next to
    ``atoms`` (every atom present), with ``mu`` the probe element's absolute chemical
    potential: one gradient evaluation for all probes. (M,)"""
    probes = Atoms(symbol * len(positions), positions=positions)
    n = len(atoms)
    q = np.r_[np.ones(n), np.zeros(len(probes))]
    s = system_from_atoms(model.species, atoms + probes, q)
    E, _, dE_dq = model.evaluate(s.species, s.positions, s.q, _without_probe_pairs(s, n, model.cutoff))
    _, dG_dq = free_energy(E, s.q, np.full(len(probes), mu), n, 0.0, dE_dq)  # E_slab does not enter ∂ΔG/∂q
    return dG_dq[n:]


def _without_probe_pairs(system, n_slab, cutoff):
    """The neighbour graph of slab + probes without the pairs between two probes."""
    g = build_graph(system.positions, system.cell, system.pbc, cutoff)
    H = g.n_half
    keep = np.flatnonzero((g.i[:H] < n_slab) | (g.j[:H] < n_slab))
    return Graph.from_half(g.i[keep], g.j[keep], g.offsets[keep], len(system.positions))
