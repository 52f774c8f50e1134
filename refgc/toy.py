r"""A toy energy model: an existence-weighted Morse pair potential.

.. math::

    E(x, q) = \sum_i q_i\, e_{Z_i} + \tfrac12 \sum_{i \ne j} q_i q_j\, \phi_{Z_i Z_j}(d_{ij}),

    \phi_{ab}(d) = \varepsilon_{ab}\left[\left(1 - e^{-(d - r_{ab})/w_{ab}}\right)^2 - 1\right] f_c(d)
                 + A_{ab} \left(1 - d / s_{ab}\right)^3 [d < s_{ab}]

with the cosine cutoff :math:`f_c` of the SchNet. It satisfies the same existence
conditions (a q = 0 atom changes nothing and feels no force) and has the same interface
as :class:`refgc.Model` (``species``, ``mu_ref``, ``cutoff``, ``evaluate``), so the
optimizer can be tested on energy landscapes whose minima are known by hand, and the claim
that the method is architecture-agnostic is exercised.
"""

import autograd.numpy as anp
import numpy as np
from autograd import value_and_grad

from .scatter import gather
from .schnet import cosine_cutoff, pair_distances

__all__ = ["PairPotential"]


class PairPotential:
    """``PairPotential(species, pairs, repulsion=None, self_energy=None, cutoff=5.0, mu_ref=None)``.

    ``pairs`` maps a pair of symbols to Morse ``(epsilon, r0, width)`` (eV, Å, Å);
    ``repulsion`` to a hard wall ``(A, s)`` (eV, Å); pairs not given do not interact.
    ``self_energy`` maps a symbol to its e_Z (eV, default 0).
    """

    def __init__(self, species, pairs, repulsion=None, self_energy=None, cutoff=5.0, mu_ref=None):
        self.species = tuple(species)
        self.cutoff = float(cutoff)
        self.mu_ref = dict(mu_ref or {})
        n = len(self.species)
        self.table = np.zeros((5, n, n))  # epsilon, r0, width, A, s for each species pair
        self.table[[2, 4]] = 1.0
        for rows, given in (((0, 1, 2), pairs), ((3, 4), repulsion or {})):
            for (a, b), values in given.items():
                ia, ib = self.species.index(a), self.species.index(b)
                self.table[rows, ia, ib] = self.table[rows, ib, ia] = values
        self.self_energy = np.array([float((self_energy or {}).get(s, 0.0)) for s in self.species])

    def evaluate(self, species, positions, q, graph, gradients=True):
        eps, r0, w, A, wall = self.table[:, species[graph.i], species[graph.j]]  # (P,) each

        def f(x, qq):
            d = pair_distances(x, graph)
            phi = eps * ((1.0 - anp.exp(-(d - r0) / w)) ** 2 - 1.0) * cosine_cutoff(d, self.cutoff)
            phi = phi + A * anp.maximum(1.0 - d / wall, 0.0) ** 3
            pair_q = gather(qq, graph.seg_i) * gather(qq, graph.seg_j)
            return anp.sum(qq * self.self_energy[species]) + 0.5 * anp.sum(pair_q * phi)

        if not gradients:
            return float(f(positions, q))
        E, (dE_dx, dE_dq) = value_and_grad(f, argnum=(0, 1))(positions, q)
        return float(E), np.asarray(dE_dx), np.asarray(dE_dq)
