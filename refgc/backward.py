r"""E, ∂E/∂x and ∂E/∂q of the existence SchNet with a hand-written backward pass.

The forward stages are the functions of :mod:`refgc.schnet` (written with
``autograd.numpy``, they run on plain arrays too), called once and their outputs kept. The
backward pass walks them in reverse, each stage's adjoint written below in the order of
the stages. Notation: P pairs (i ← j), H unordered pairs, N atoms, bars are adjoints
:math:`\bar y = \partial E / \partial y`, σ the sigmoid (the derivative of ssp).

=====================  =========================================  ==============================================
stage (schnet)         forward                                    adjoint (this module)
=====================  =========================================  ==============================================
``pair_distances``     :math:`d_{ij} = |x_j - x_i + S_{ij}|`       :math:`\bar x_j \mathrel{+}= \bar d\,\hat r_{ij}`, :math:`\bar x_i \mathrel{-}= \bar d\,\hat r_{ij}`
``network_distances``  :math:`\tilde d = f + w\,\mathrm{softplus}((d-f)/w)`  :math:`\bar d \mathrel{+}= \bar{\tilde d}\,\sigma((d-f)/w)` (no floor: :math:`\tilde d = d`)
``rbf``                :math:`e_k = \exp(-\tfrac12 ((d-\mu_k)/\sigma)^2)`  :math:`\bar d \mathrel{+}= -\sum_k \bar e_k e_k (d-\mu_k)/\sigma^2`
``cosine_cutoff``      :math:`f_c(d)`                              :math:`\bar d \mathrel{+}= \bar f_c\, f_c'(d)`
``filter_network``     :math:`W = \mathrm{ssp}(e W_0 + b_0) W_1 + b_1`  :math:`\bar e = ((\bar W W_1^\top) \odot \sigma(a)) W_0^\top`
``in2f``               :math:`v_j = q_j\, h_j W_{in}`              :math:`\bar q_j \mathrel{+}= \bar v_j \cdot h_j W_{in}`, :math:`\bar h \mathrel{+}= (q \bar v) W_{in}^\top`
``messages``           :math:`m_i = \sum_j W_{ij} f_c \odot v_j`   :math:`\overline{W f_c}_{ij} = \bar m_i \odot v_j`, :math:`\bar v_j = \sum_i \bar m_i \odot W_{ij} f_c`
``f2out``              :math:`h \mathrel{+}= \mathrm{ssp}(m U_0 + c_0) U_1 + c_1`  :math:`\bar m = ((\bar h U_1^\top) \odot \sigma(b)) U_0^\top`
``readout``            :math:`\varepsilon = s\,(\mathrm{act}(h R_0 + r_0) R_1 + r_1) + o`  :math:`\bar h = (q s\, R_1^\top \odot \mathrm{act}'(c)) R_0^\top`, :math:`\bar q \mathrel{+}= \varepsilon`
``repulsion``          :math:`\tfrac12 \sum q_i q_j A (1 - d/r_{ab})_+^3`  :math:`\bar d`, :math:`\bar q` of the same sum
=====================  =========================================  ==============================================

The tests hold every output equal to autograd's (the reference) to 1e-10 and to finite
differences. Every line takes its operations from the namespace of its arrays
(:mod:`refgc.arrays`), so the same pass runs on NumPy, on CuPy and under ``array-api-strict``.
"""

import numpy as np

from . import schnet
from .arrays import constant, dot, is_numpy, namespace, rowdot, rows, to_device
from .scatter import gather, scatter_add

__all__ = ["energy_and_gradients"]


def pair_distances_adjoint(positions, graph, d, d_bar):
    """x̄ (N, 3) from d̄ (P,): each pair pulls its two atoms along r̂_ij."""
    xp = namespace(d)
    r = gather(positions, graph.seg_j) - gather(positions, graph.seg_i) + graph.offsets  # (P, 3)
    apart = d > 0.0
    g = xp.where(apart, d_bar / xp.where(apart, d, 1.0), 0.0)[:, None] * r  # d̄ r̂; d = 0: no direction
    return scatter_add(g, graph.seg_j) - scatter_add(g, graph.seg_i)


def rbf_adjoint(d, e, e_bar, cutoff, n_rbf):
    """d̄ (P,) from ē (P, K): ∂e_k/∂d = −e_k (d − μ_k)/σ²."""
    centres, sigma = schnet.rbf_centres(cutoff, n_rbf)
    return -rowdot(e_bar * e, d[:, None] - constant(centres, d)) / sigma**2


def cosine_cutoff_adjoint(d, fc_bar, cutoff):
    """d̄ (P,) from f̄_c (P,): f_c' = −½ (π/r_c) sin(π d/r_c) inside the cutoff, 0 beyond."""
    xp = namespace(d)
    return fc_bar * xp.where(d < cutoff, -0.5 * xp.pi / cutoff * xp.sin(xp.pi * d / cutoff), 0.0)


def network_distances_slope(d, f, n=None):
    """∂d̃/∂d = σ((d − f)/w) for the first ``n`` pairs (all when None), the floor's factor;
    ``f``: the pairs' floors, (P,)."""
    d, f = (d, f) if n is None else (d[:n], f[:n])
    return schnet.sigmoid((d - f) / schnet.FLOOR_WIDTH)


CHUNK = 512  # pairs per slice of the filter network on a CPU: its (CHUNK, F) temporaries stay in cache


def _chunk(x):
    """Pairs per slice: :data:`CHUNK` on NumPy, all of them on a device (one kernel each)."""
    return CHUNK if is_numpy(namespace(x)) else max(1, x.shape[0])


def filter_network(params, t, e):
    """Block t's filters before the cutoff, as :func:`refgc.schnet.filter_network` computes
    them (its ``dense`` and ssp), and σ(a) of the hidden layer a = e W₀ + b₀ for the adjoint;
    a cache-sized slice of pairs at a time (measured 1.4x faster than whole arrays)."""
    xp, p, n, c = namespace(e), f"interactions.{t}.filter.", e.shape[0], _chunk(e)
    if n <= c:  # one slice: no copies
        hidden, sig = schnet.ssp_and_sigmoid(schnet.dense(e, params, p + "0"))
        return schnet.dense(hidden, params, p + "1"), sig
    F = params[p + "1.bias"].shape[0]
    W, sig = xp.empty((n, F), dtype=e.dtype), xp.empty((n, F), dtype=e.dtype)
    for a in range(0, n, c):
        hidden, sig[a : a + c, :] = schnet.ssp_and_sigmoid(schnet.dense(e[a : a + c, :], params, p + "0"))
        W[a : a + c, :] = schnet.dense(hidden, params, p + "1")
    return W, sig


def filter_network_adjoint(params, t, sig, W_bar):
    """ē (P, K) from W̄ (P, F), the adjoint of the filters before the cutoff."""
    xp, p, n, c = namespace(sig), f"interactions.{t}.filter.", sig.shape[0], _chunk(sig)
    w0, w1 = params[p + "0.weight"], params[p + "1.weight"]
    if n <= c:
        return (sig * (W_bar @ w1.T)) @ w0.T
    e_bar = xp.empty((n, w0.shape[0]), dtype=sig.dtype)
    for a in range(0, n, c):
        e_bar[a : a + c, :] = (sig[a : a + c, :] * (W_bar[a : a + c, :] @ w1.T)) @ w0.T
    return e_bar


def in2f_adjoint(params, t, h, q, v_bar):
    """(h̄ (N, A), q̄ (N,)) from v̄ (N, F), v = q ⊙ h W_in."""
    w = params[f"interactions.{t}.in2f.weight"]
    return (v_bar * q[:, None]) @ w.T, rowdot(v_bar, h @ w)


def messages_adjoint(m_bar, W, v, graph):
    """(W̄ (P or H, F), v̄ (N, F)) from m̄ (N, F), m_i = Σ_j W_ij ⊙ v_j."""
    if graph.n_half is None:
        directions = [(graph.seg_i, graph.seg_j)]
    else:  # each unordered pair carries a message both ways
        i, j = graph.half_segments
        directions = [(i, j), (j, i)]
    W_bar = v_bar = 0.0
    for receivers, senders in directions:
        m_r = gather(m_bar, receivers)  # (P, F) m̄ of each pair's receiver
        v_bar += scatter_add(m_r * W, senders)  # v̄_j = Σ_i m̄_i ⊙ W_ij
        m_r *= gather(v, senders)
        W_bar += m_r  # W̄_ij = m̄_i ⊙ v_j
    return W_bar, v_bar


def f2out_adjoint(params, t, m, h_bar):
    """m̄ (N, F) from h̄ (N, A), the adjoint of the block's output."""
    p = f"interactions.{t}.f2out."
    sig = schnet.sigmoid(schnet.dense(m, params, p + "0"))  # σ(b), b = m U₀ + c₀
    sig *= h_bar @ params[p + "1.weight"].T
    return sig @ params[p + "0.weight"].T


def activation_derivative(name, c):
    """act'(c) of the read-out activation."""
    if name == "ssp":
        return schnet.sigmoid(c)
    if name == "silu":
        s = schnet.sigmoid(c)
        return s * (1.0 + c * (1.0 - s))
    if name == "tanh":
        return 1.0 - namespace(c).tanh(c) ** 2
    raise ValueError(f"no derivative for read-out activation {name!r}")


def readout_adjoint(params, config, species, q, c):
    """h̄ (N, A) of Σ_i q_i ε_i, from the read-out's first layer c = h R₀ + r₀."""
    c_bar = activation_derivative(config.readout_activation, c)
    c_bar *= (q * rows(params["scale"], species))[:, None] * params["readout.1.weight"][:, 0]
    return c_bar @ params["readout.0.weight"].T


def repulsion_adjoint(config, species, q, graph, d):
    """(d̄ (P,), q̄ (N,)) of E_rep = ½ Σ_pairs q_i q_j A u³, u = (1 − d/r_ab)₊."""
    r_ab = schnet.prior_radii(config, species, graph)
    u = namespace(d).maximum(1.0 - d / r_ab, 0.0)
    A = config.prior_strength
    qi, qj = gather(q, graph.seg_i), gather(q, graph.seg_j)
    d_bar = -1.5 * A * qi * qj * u**2 / r_ab
    q_bar = 0.5 * A * (scatter_add(qj * u**3, graph.seg_i) + scatter_add(qi * u**3, graph.seg_j))
    return d_bar, q_bar


def energy_and_gradients(params, config, species, positions, q, graph, dtype=np.float64, structures=None):
    """(E, ∂E/∂x (N, 3), ∂E/∂q (N,)) for the arrays of one system; see the module docstring.

    The arrays may be of any namespace (NumPy, CuPy, ...), the graph and the parameters on
    the same device (``Graph.to``); the gradients come back in that namespace.
    ``dtype=numpy.float32`` computes in single precision (gradients agree with float64 to
    ~1e-5 relative). ``structures``: for a batch of disjoint structures, the
    :class:`refgc.scatter.Segments` that maps atoms to their structure; E is then (S,), one
    energy per structure (the gradients need no splitting: no pair joins two)."""
    xp, dtype = namespace(positions), np.dtype(dtype)
    if dtype != np.float64:
        params = {k: to_device(xp, v, dtype) for k, v in params.items()}
        positions, q = to_device(xp, positions, dtype), to_device(xp, q, dtype)
    graph = graph.to(xp, dtype)
    T, cutoff, K = config.n_interactions, config.cutoff, config.n_rbf

    # forward: schnet's stages, keeping what the adjoints need
    d = schnet.pair_distances(positions, graph)  # (P,)
    if is_numpy(xp):  # the pairs that count; on a device the skin's pairs stay in, adding exact zeros
        graph, d = graph.within(d, cutoff)
    H = graph.n_half
    floors = schnet.pair_floors(config, species, graph)  # (P,), or None without a floor
    d_n = schnet.network_distances(d, floors)  # (P,) through the floor, if any
    d_f = d_n if H is None else d_n[:H]  # the filters' pairs: all, or the unordered ones
    e = schnet.rbf(d_f, cutoff, K)  # (H, K)
    fc = schnet.cosine_cutoff(d_f, cutoff)[:, None]  # (H, 1)
    h = rows(params["embedding"], species)  # (N, A)
    saved = []
    for t in range(T):
        W, sig = filter_network(params, t, e)  # (H, F), before the cutoff
        Wc = W * fc  # W_ij
        v = schnet.in2f(params, t, h, q)  # (N, F)
        m = schnet.messages(Wc, v, graph)  # (N, F)
        saved.append((h, W, sig, Wc, v, m))
        h = h + schnet.f2out(params, t, m)  # (N, A)
    c = schnet.dense(h, params, "readout.0")  # (N, A/2)
    eps = schnet.atom_energy(params, config, species, c)  # ε_i
    rep = schnet.repulsion(config, species, q, graph, d)  # (P,)
    if structures is None:
        E = float(dot(q, eps) + 0.5 * xp.sum(rep))
    else:  # E_s = Σ_{i ∈ s} (q_i ε_i + ½ Σ_j q_i q_j φ_ij)
        E = scatter_add(q * eps + 0.5 * scatter_add(rep, graph.seg_i), structures.to(xp))

    # backward
    d_bar, q_bar = repulsion_adjoint(config, species, q, graph, d)
    q_bar += eps  # ∂(Σ q ε)/∂q, direct
    h_bar = readout_adjoint(params, config, species, q, c)  # (N, A)
    e_bar = xp.zeros_like(e)
    fc_bar = xp.zeros_like(d_f)
    for t in reversed(range(T)):
        h, W, sig, Wc, v, m = saved[t]
        m_bar = f2out_adjoint(params, t, m, h_bar)  # (N, F); h̄ also flows on through the residual
        Wc_bar, v_bar = messages_adjoint(m_bar, Wc, v, graph)
        dh, dq = in2f_adjoint(params, t, h, q, v_bar)
        h_bar = h_bar + dh
        q_bar += dq
        fc_bar += rowdot(Wc_bar, W)
        Wc_bar *= fc
        e_bar += filter_network_adjoint(params, t, sig, Wc_bar)
    dd_f = rbf_adjoint(d_f, e, e_bar, cutoff, K) + cosine_cutoff_adjoint(d_f, fc_bar, cutoff)  # (H,)
    if floors is not None:
        dd_f = dd_f * network_distances_slope(d, floors, H)
    if H is None:
        d_bar += dd_f
    else:
        d_bar[:H] += dd_f
    dx = pair_distances_adjoint(positions, graph, d, d_bar)
    return E, dx, q_bar
