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

Every function takes its operations from the namespace of its arrays (:mod:`refgc.arrays`):
``autograd.numpy`` for NumPy arrays, so that autograd can differentiate them with respect
to positions, existences and parameters (twice, for force training), and the array-API
namespace of CuPy or any other library otherwise, so that the hand-written backward
pass (:mod:`refgc.backward`) runs the same stages on a GPU.
"""

import math

import numpy as np
from autograd.extend import defvjp, primitive

from .arrays import constant, is_numpy, namespace, rows
from .scatter import gather, scatter_add

__all__ = ["ssp", "sigmoid", "rbf", "cosine_cutoff", "pair_distances", "pair_floors", "network_distances",
           "filter_network", "in2f", "messages", "f2out", "atom_embeddings", "readout", "repulsion", "atom_energies",
           "total_energy"]


def _half_tanh(x):
    """tanh(|x| / 2), in [0, 1): shifted softplus and sigmoid are both functions of it."""
    xp = namespace(x)
    t = xp.abs(x)
    t *= 0.5
    return np.tanh(t, out=t) if is_numpy(xp) else xp.tanh(t)  # NumPy: in place, no temporary


def _ssp_from(x, t):
    r"""ssp from t = tanh(|x|/2): :math:`\ln(1 + e^x) = \max(x, 0) + \ln 2 - \ln(1 + \tanh(|x|/2))`,
    since :math:`1 + e^{-|x|} = 2 / (1 + \tanh(|x|/2))`; no overflow for any x. On NumPy it
    overwrites t (the filters' temporaries are most of an evaluation's memory traffic)."""
    xp = namespace(x)
    if is_numpy(xp):
        return np.subtract(np.maximum(x, 0.0), np.log1p(t, out=t), out=t)
    return xp.maximum(x, 0.0) - xp.log1p(t)


def _sigmoid_from(x, t):
    r""":math:`\sigma(x) = \tfrac12 (1 + \tanh(x/2))` from t = tanh(|x|/2)."""
    s = namespace(x).copysign(t, x)
    s += 1.0
    s *= 0.5
    return s


@primitive
def ssp(x):
    r"""Shifted softplus :math:`\mathrm{ssp}(x) = \ln(1 + e^x) - \ln 2` (SchNet's activation).

    A primitive so autograd need not trace its pieces; its derivative, the sigmoid, is
    again a differentiable primitive, as force training needs."""
    return _ssp_from(x, _half_tanh(x))


@primitive
def sigmoid(x):
    r"""1 / (1 + e^{-x}), the derivative of ssp."""
    return _sigmoid_from(x, _half_tanh(x))


def ssp_and_sigmoid(x):
    """(ssp(x), σ(x)) from one tanh: the hand-written backward pass needs both."""
    t = _half_tanh(x)
    s = _sigmoid_from(x, t)
    return _ssp_from(x, t), s


defvjp(ssp, lambda ans, x: lambda g: g * sigmoid(x))
defvjp(sigmoid, lambda ans, x: lambda g: g * ans * (1.0 - ans))  # autograd ops: differentiable again


def silu(x):
    return x / (1.0 + namespace(x).exp(-x))


def tanh(x):
    return namespace(x).tanh(x)


ACTIVATIONS = {"ssp": ssp, "silu": silu, "tanh": tanh}


def rbf_centres(cutoff, n_rbf):
    """The Gaussians' centres μ_k = linspace(0, r_c, K) and their width σ = r_c / (K − 1)."""
    return np.linspace(0.0, cutoff, n_rbf), cutoff / (n_rbf - 1)


def rbf(d, cutoff, n_rbf):
    r"""Gaussian radial basis :math:`e_k(d) = \exp(-\tfrac12 ((d - \mu_k)/\sigma)^2)`. (P,) -> (P, K)."""
    centres, sigma = rbf_centres(cutoff, n_rbf)
    centres = constant(centres, d)  # d's dtype (float32 stays float32) and device
    return namespace(d).exp(-0.5 * ((d[:, None] - centres[None, :]) / sigma) ** 2)


def cosine_cutoff(d, cutoff):
    r""":math:`f_c(d) = \tfrac12 (\cos(\pi d / r_c) + 1)` for :math:`d < r_c`, else exactly 0.

    Its value and slope vanish at :math:`r_c`, so a pair crossing the cutoff changes the
    energy continuously and differentiably."""
    xp = namespace(d)
    return xp.where(d < cutoff, 0.5 * (xp.cos(xp.pi * d / cutoff) + 1.0), 0.0)


def pair_distances(positions, graph):
    """|r_ij| for every pair, (P,). Coincident atoms give d = 0 with a zero (not NaN) gradient."""
    r = gather(positions, graph.seg_j) - gather(positions, graph.seg_i) + graph.offsets  # (P, 3)
    xp = namespace(r)
    r2 = xp.sum(r**2, axis=1)
    apart = r2 > 0.0
    # sqrt is not differentiable at 0: feed it 1 there and select 0 afterwards (the
    # gradient of the unused branch is then finite and multiplied by 0, not NaN).
    return xp.where(apart, xp.sqrt(xp.where(apart, r2, 1.0)), 0.0)


FLOOR_WIDTH = 0.02  # Å: how soft the network's distance floor is (ModelConfig.floor_radius_scale)
LN2 = math.log(2.0)  # a Python float: array namespaces take it as a scalar


def pair_values(table, species, graph):
    """A species-pair table (S, S) looked up for every pair i ← j, (P,), in the dtype of the
    graph's offsets."""
    flat = constant(np.asarray(table).reshape(-1), graph.offsets)  # (S·S,) the value of (a, b) at a·S + b
    return rows(flat, rows(species, graph.i) * table.shape[0] + rows(species, graph.j))


def pair_floors(config, species, graph):
    """The network's distance floor of every pair i ← j, (P,) (``config.floor_radii()``
    looked up by species), or None when the model has no floor."""
    if not config.floor_radius_scale:
        return None
    return pair_values(config.floor_radii(), species, graph)


def network_distances(d, floors):
    r"""The distances the network sees, (P,): :math:`\tilde d = f + w\,\mathrm{softplus}((d - f)/w)`
    with the pairs' floors :math:`f` (:func:`pair_floors`) and :math:`w` = ``FLOOR_WIDTH``;
    ``d`` itself when ``floors`` is None (no floor).

    :math:`\tilde d` is d to within :math:`w e^{-(d - f)/w}` above the floor (1e-6 Å at
    0.2 Å above it) and tends to f below it, so the network's energy stops changing as a
    pair closes in past its floor, and only the prior does. Its slope,
    :math:`\sigma((d - f)/w)`, is the adjoint's factor."""
    if floors is None:
        return d
    return floors + FLOOR_WIDTH * (ssp((d - floors) / FLOOR_WIDTH) + LN2)


def dense(x, params, name):
    """y = x W + b, W stored (in, out)."""
    return x @ params[name + ".weight"] + params[name + ".bias"]


def filter_network(params, t, e):
    """Block t's filters before the cutoff, ssp(e W₀ + b₀) W₁ + b₁: (P, K) -> (P, F)."""
    p = f"interactions.{t}.filter."
    return dense(ssp(dense(e, params, p + "0")), params, p + "1")


def in2f(params, t, h, q):
    """v_j = q_j h_j W_in, what each atom sends in block t, (N, F): q_j = 0 sends nothing."""
    return (h @ params[f"interactions.{t}.in2f.weight"]) * q[:, None]


def messages(W, v, graph):
    r"""m_i = Σ_j W_ij ⊙ v_j, (N, F), from filters W (P, F) and what each atom sends, v (N, F).

    With the half/reversed layout (``graph.n_half``) ``W`` holds the unordered pairs {i, j}
    only (W_ji = W_ij), and each carries a message both ways: i ← j and j ← i."""
    if graph.n_half is None:
        return scatter_add(W * gather(v, graph.seg_j), graph.seg_i)
    i, j = graph.half_segments
    return scatter_add(W * gather(v, j), i) + scatter_add(W * gather(v, i), j)


def f2out(params, t, m):
    """Block t's update of the embeddings, ssp(m U₀ + c₀) U₁ + c₁: (N, F) -> (N, A)."""
    p = f"interactions.{t}.f2out."
    return dense(ssp(dense(m, params, p + "0")), params, p + "1")


def atom_embeddings(params, config, species, q, graph, d):
    """Embeddings h⁰ … h^T of every atom, a list of T + 1 arrays (N, A).

    ``species`` is each atom's index into ``config.species``; ``d`` the pair distances.
    With the half/reversed layout (``graph.n_half``) the filters, functions of the distance
    alone, are computed for the unordered pairs and used for both directions: W_ji = W_ij.
    They are most of the work, and force training differentiates them twice. The network
    sees the distances through its floor (:func:`network_distances`)."""
    d = network_distances(d, pair_floors(config, species, graph))
    d_filter = d if graph.n_half is None else d[: graph.n_half]
    e = rbf(d_filter, config.cutoff, config.n_rbf)  # (P or H, K)
    fc = cosine_cutoff(d_filter, config.cutoff)[:, None]  # (P or H, 1)
    h = rows(params["embedding"], species)  # (N, A)
    layers = [h]
    for t in range(config.n_interactions):
        W = filter_network(params, t, e) * fc  # (P or H, F) W_ij
        m = messages(W, in2f(params, t, h, q), graph)  # (N, F) m_i = Σ_j q_j W_ij ⊙ in2f h_j
        h = h + f2out(params, t, m)  # (N, A)
        layers.append(h)
    return layers


def atom_energy(params, config, species, c):
    """ε_i = scale[s_i] · (act(c_i) W + b) + offset[s_i] from the read-out's first layer c = h R₀ + b₀, (N,)."""
    act = ACTIVATIONS[config.readout_activation]
    out = dense(act(c), params, "readout.1")[:, 0]  # (N,)
    return rows(params["scale"], species) * out + rows(params["offset"], species)


def readout(params, config, species, h):
    """ε_i = scale[s_i] · MLP(h_i) + offset[s_i], (N,)."""
    return atom_energy(params, config, species, dense(h, params, "readout.0"))


def prior_radii(config, species, graph):
    """r_ab of every pair, (P,), in the dtype of the graph's offsets: the prior acts inside it."""
    return pair_values(config.prior_radii(), species, graph)


def repulsion(config, species, q, graph, d):
    """q_i q_j φ(d_ij) per pair, (P,), with φ = A (1 − d/r_ab)³ inside r_ab and 0 beyond."""
    u = namespace(d).maximum(1.0 - d / prior_radii(config, species, graph), 0.0)
    return config.prior_strength * gather(q, graph.seg_i) * gather(q, graph.seg_j) * u**3


def atom_energies(params, config, species, positions, q, graph):
    """Each atom's share of E, (N,): q_i ε_i + ½ Σ_j q_i q_j φ(d_ij). They sum to E."""
    d = pair_distances(positions, graph)
    h = atom_embeddings(params, config, species, q, graph, d)[-1]
    prior = 0.5 * scatter_add(repulsion(config, species, q, graph, d), graph.seg_i)  # (N,)
    return q * readout(params, config, species, h) + prior


def total_energy(params, config, species, positions, q, graph):
    """E(x, q) = Σ_i q_i ε_i + E_rep, in eV."""
    e = atom_energies(params, config, species, positions, q, graph)
    return namespace(e).sum(e)
