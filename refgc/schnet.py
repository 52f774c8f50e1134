r"""SchNet with fractional atomic existence: the equations, as pure functions.

Every atom i carries an existence :math:`q_i \in [0, 1]`. Existence enters the network in
exactly two places (Figure 1c and 1e of the paper):

* **aggregation**: an atom's message is the sum over its neighbours, each weighted by the
  neighbour's existence, :math:`m_i = \sum_j q_j\, W_{ij} \odot (\mathrm{in2f}\, h_j)`;
* **read-out**: the energy is the existence-weighted sum of atomic energies,
  :math:`E_{nn} = \sum_i q_i\, \varepsilon_i`.

An atom with :math:`q = 0` therefore sends nothing and counts for nothing: the other
atoms' embeddings and the energy are exactly those of the system without it, and it
feels no force, yet :math:`\partial E / \partial q` at its position is the first-order
energy of inserting it there. At :math:`q = 1` everywhere the model is plain SchNet
(SchNetPack 2 layer layout). A short-range repulsive prior, also weighted by existence,

.. math:: E_{rep} = \tfrac12 \sum_{i \ne j} q_i q_j\, \phi_{Z_i Z_j}(d_{ij}),

keeps fractional atoms from collapsing onto each other; :math:`E = E_{nn} + E_{rep}`.

All functions are written with ``autograd.numpy`` so that autograd can differentiate
them with respect to positions, existences and parameters (twice, for force training).
"""

import autograd.numpy as np
import numpy as onp
from autograd.extend import defvjp, primitive

from .scatter import both_ways, gather, scatter_add

__all__ = ["ssp", "rbf", "cosine_cutoff", "pair_distances", "atom_embeddings", "readout", "atom_energies", "total_energy"]

LOG2 = float(np.log(2.0))


@primitive
def ssp(x):
    r"""Shifted softplus :math:`\ln(1 + e^x) - \ln 2`, in the overflow-free form
    :math:`\max(x, 0) + \ln(1 + e^{-|x|}) - \ln 2`.

    A primitive so autograd need not trace ``max`` and ``abs`` (their tie-breaking VJPs
    cost more than the function); its derivative, the sigmoid, is written in
    ``autograd.numpy`` and so stays differentiable for force training."""
    y = onp.exp(-onp.abs(x))
    onp.log1p(y, out=y)  # in place: this runs on every (pair, filter) entry
    y += onp.maximum(x, 0.0)
    y -= LOG2
    return y


@primitive
def sigmoid(x):
    """1 / (1 + e^{-x}) = ½ (1 + tanh(x/2)), without overflow; ssp's derivative."""
    y = onp.tanh(0.5 * x)
    y += 1.0
    y *= 0.5
    return y


defvjp(ssp, lambda ans, x: lambda g: g * sigmoid(x))
defvjp(sigmoid, lambda ans, x: lambda g: g * ans * (1.0 - ans))  # autograd ops: differentiable again


def silu(x):
    return x / (1.0 + np.exp(-x))


ACTIVATIONS = {"ssp": ssp, "silu": silu, "tanh": np.tanh}


def rbf(d, cutoff, n_rbf):
    r"""Gaussian radial basis :math:`e_k(d) = \exp(-\tfrac12 ((d - \mu_k)/\sigma)^2)`,
    :math:`\mu_k` = linspace(0, r_c, K), :math:`\sigma = r_c / (K - 1)`. (P,) -> (P, K)."""
    centres = np.linspace(0.0, cutoff, n_rbf)
    sigma = cutoff / (n_rbf - 1)
    return np.exp(-0.5 * ((d[:, None] - centres[None, :]) / sigma) ** 2)


def cosine_cutoff(d, cutoff):
    r""":math:`f_c(d) = \tfrac12 (\cos(\pi d / r_c) + 1)` for :math:`d < r_c`, else exactly 0.

    Its value and slope vanish at :math:`r_c`, so a pair crossing the cutoff changes the
    energy continuously and differentiably."""
    return np.where(d < cutoff, 0.5 * (np.cos(np.pi * d / cutoff) + 1.0), 0.0)


def pair_distances(positions, graph):
    """|r_ij| for every pair, (P,). Coincident atoms give d = 0 with a zero (not NaN) gradient."""
    r = gather(positions, graph.seg_j) - gather(positions, graph.seg_i) + graph.offsets  # (P, 3)
    r2 = np.sum(r**2, axis=1)
    apart = r2 > 0.0
    # sqrt is not differentiable at 0: feed it 1 there and select 0 afterwards (the
    # gradient of the unused branch is then finite and multiplied by 0, not NaN).
    return np.where(apart, np.sqrt(np.where(apart, r2, 1.0)), 0.0)


def dense(x, params, name):
    return np.dot(x, params[name + ".weight"]) + params[name + ".bias"]


def atom_embeddings(params, config, species, q, graph, d):
    """Embeddings h⁰ … h^T of every atom, a list of T + 1 arrays (N, A).

    ``species`` is each atom's index into ``config.species``; ``d`` the pair distances.
    With the half/reversed layout (``graph.n_half``) the filters, functions of the distance
    alone, are computed for the unordered pairs and used for both directions: W_ji = W_ij.
    They are most of the work, and force training differentiates them twice."""
    H = graph.n_half
    d_filter = d if H is None else d[:H]
    e = rbf(d_filter, config.cutoff, config.n_rbf)  # (P or H, K)
    fc = cosine_cutoff(d_filter, config.cutoff)[:, None]  # (P or H, 1)
    h = params["embedding"][species]  # (N, A)
    layers = [h]
    for t in range(config.n_interactions):
        p = f"interactions.{t}."
        W = dense(ssp(dense(e, params, p + "filter.0")), params, p + "filter.1") * fc  # (P or H, F)
        if H is not None:
            W = both_ways(W)  # (P, F): pair H + k is pair k reversed
        v = np.dot(h, params[p + "in2f.weight"]) * q[:, None]  # (N, F): q_j scales what j sends
        m = scatter_add(W * gather(v, graph.seg_j), graph.seg_i)  # (N, F) m_i = Σ_j q_j W_ij ⊙ in2f h_j
        h = h + dense(ssp(dense(m, params, p + "f2out.0")), params, p + "f2out.1")  # (N, A)
        layers.append(h)
    return layers


def readout(params, config, species, h):
    """ε_i = scale[s_i] · MLP(h_i) + offset[s_i], (N,)."""
    act = ACTIVATIONS[config.readout_activation]
    out = dense(act(dense(h, params, "readout.0")), params, "readout.1")[:, 0]  # (N,)
    return params["scale"][species] * out + params["offset"][species]


def repulsion(config, species, q, graph, d):
    """q_i q_j φ(d_ij) per pair, (P,), with φ = A (1 − d/r_ab)³ inside r_ab and 0 beyond."""
    r_ab = config.prior_radii()[species[graph.i], species[graph.j]]  # (P,)
    u = np.maximum(1.0 - d / r_ab, 0.0)
    return config.prior_strength * gather(q, graph.seg_i) * gather(q, graph.seg_j) * u**3


def atom_energies(params, config, species, positions, q, graph):
    """Each atom's share of E, (N,): q_i ε_i + ½ Σ_j q_i q_j φ(d_ij). They sum to E."""
    d = pair_distances(positions, graph)
    h = atom_embeddings(params, config, species, q, graph, d)[-1]
    prior = 0.5 * scatter_add(repulsion(config, species, q, graph, d), graph.seg_i)  # (N,)
    return q * readout(params, config, species, h) + prior


def total_energy(params, config, species, positions, q, graph):
    """E(x, q) = Σ_i q_i ε_i + E_rep, in eV."""
    return np.sum(atom_energies(params, config, species, positions, q, graph))
