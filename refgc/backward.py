r"""E, ∂E/∂x and ∂E/∂q of the existence SchNet with a hand-written backward pass.

The same equations as :mod:`refgc.schnet` (which autograd differentiates: the reference),
evaluated once forwards, keeping what the backward pass needs, and then differentiated by
hand in reverse order, one stage at a time. Notation: P pairs (i ← j), N atoms, bars are
adjoints :math:`\bar y = \partial E / \partial y`.

Forward, per interaction block t:

.. math::

    a_{ij} = e_{ij} W_0 + b_0, \quad W_{ij} = (\mathrm{ssp}(a_{ij}) W_1 + b_1)\, f_c(d_{ij}), \quad
    v_j = q_j\, h_j W_{in}, \quad m_i = \sum_j W_{ij} \odot v_j, \quad
    h_i \leftarrow h_i + \mathrm{ssp}(m_i U_0 + c_0)\, U_1 + c_1

Backward through one block, given :math:`\bar h` (the adjoint of the block's output):

.. math::

    \bar m = ((\bar h U_1^\top) \odot \sigma(m U_0 + c_0))\, U_0^\top, \quad
    \bar W_{ij} = \bar m_i \odot v_j, \quad \bar v_j = \sum_i \bar m_i \odot W_{ij}, \\
    \bar q_j \mathrel{+}= \bar v_j \cdot (h_j W_{in}), \quad
    \bar h_j \mathrel{+}= (q_j \bar v_j) W_{in}^\top, \quad
    \bar f_c \mathrel{+}= \bar W \cdot W / f_c, \quad
    \bar e \mathrel{+}= ((\bar W f_c W_1^\top) \odot \sigma(a)) W_0^\top

(σ is the sigmoid, the derivative of ssp), and finally :math:`\bar d = \bar e \cdot \partial e/\partial d
+ \bar f_c\, f_c' + \bar d_{rep}`, :math:`\bar x_j \mathrel{+}= \bar d\, \hat r_{ij}`,
:math:`\bar x_i \mathrel{-}= \bar d\, \hat r_{ij}`. The tests check every output against
autograd to 1e-10 and against finite differences.
"""

import numpy as onp

from .schnet import ACTIVATIONS, sigmoid

__all__ = ["energy_and_gradients"]

LOG2 = float(onp.log(2.0))


def _ssp_and_sigmoid(x):
    """ssp(x) and its derivative σ(x) from one exponential, y = e^{−|x|}:
    ssp = ln(1 + y) + max(x, 0) − ln 2, σ = 1/(1 + y) for x ≥ 0 and y/(1 + y) below."""
    y = onp.exp(-onp.abs(x))
    inv = 1.0 / (1.0 + y)
    sig = onp.where(x >= 0.0, inv, y * inv)
    onp.log1p(y, out=y)
    y += onp.maximum(x, 0.0)
    y -= LOG2
    return y, sig


CHUNK = 2048  # pairs per slice of the filter network: its (CHUNK, F) temporaries stay in cache


def _filters(e, w0, b0, w1, b1):
    """The filter network on every pair, a cache-sized slice at a time: W = ssp(e w0 + b0) w1 + b1
    (before the cutoff) and σ(e w0 + b0), which the backward pass needs."""
    P, F = len(e), w1.shape[1]
    W, sig = onp.empty((P, F), dtype=e.dtype), onp.empty((P, F), dtype=e.dtype)
    for a in range(0, P, CHUNK):
        s_a, sig[a : a + CHUNK] = _ssp_and_sigmoid(e[a : a + CHUNK] @ w0 + b0)
        onp.matmul(s_a, w1, out=W[a : a + CHUNK])
    W += b1
    return W, sig


def _filters_backward(dW, sig, w0, w1):
    """ē of the filter network given W̄ (the adjoint of W before the cutoff), slice by slice:
    ē = ((W̄ w1ᵀ) ⊙ σ) w0ᵀ."""
    de = onp.empty((len(dW), w0.shape[0]), dtype=dW.dtype)
    for a in range(0, len(dW), CHUNK):
        onp.matmul((dW[a : a + CHUNK] @ w1.T) * sig[a : a + CHUNK], w0.T, out=de[a : a + CHUNK])
    return de


def _activation_derivative(name, x):
    if name == "ssp":
        return sigmoid(x)
    if name == "silu":
        s = sigmoid(x)
        return s * (1.0 + x * (1.0 - s))
    if name == "tanh":
        return 1.0 - onp.tanh(x) ** 2
    raise ValueError(f"no derivative for read-out activation {name!r}")


def _geometry(positions, i, j, offsets, cutoff):
    """Distances, unit vectors and the cutoff with its derivative, per pair."""
    r = positions[j] - positions[i] + offsets  # (P, 3)
    d = onp.sqrt(onp.sum(r * r, axis=1))  # (P,)
    apart = d > 0.0
    unit = onp.zeros_like(r)
    unit[apart] = r[apart] / d[apart, None]  # d = 0: a zero direction, so a zero (not NaN) gradient
    inside = d < cutoff
    fc = onp.where(inside, 0.5 * (onp.cos(onp.pi * d / cutoff) + 1.0), 0.0)
    dfc = onp.where(inside, -0.5 * onp.pi / cutoff * onp.sin(onp.pi * d / cutoff), 0.0)
    return d, unit, fc, dfc


def _pairs(graph):
    """The pairs to compute, their scatter maps, whether messages flow both ways along them,
    and the prior's weight.

    With the half/reversed layout (``graph.n_half``) every function of the distance (RBF,
    cutoff, filters, prior) is computed once per unordered pair {i, j}, and a message flows
    both ways: i ← j and j ← i. Otherwise each listed pair carries one message i ← j. The
    prior ½ Σ over ordered pairs is Σ over unordered ones: weight 1 instead of ½."""
    if graph.n_half is not None:
        H = graph.n_half
        return (graph.i[:H], graph.j[:H], graph.offsets[:H], *graph.half_scatter, True, 1.0)
    return graph.i, graph.j, graph.offsets, graph.seg_i.matrix, graph.seg_j.matrix, False, 0.5


def energy_and_gradients(params, config, species, positions, q, graph, dtype=onp.float64):
    """(E, ∂E/∂x (N, 3), ∂E/∂q (N,)) for the arrays of one system; see the module docstring.

    ``dtype=numpy.float32`` computes in single precision (about twice as fast; gradients
    agree with float64 to ~1e-5 relative); the results are returned as float64."""
    dtype = onp.dtype(dtype)
    i, j, offsets, Mi, Mj, both_ways, prior_weight = _pairs(graph)
    if dtype != onp.float64:
        params = {k: v.astype(dtype) for k, v in params.items()}
        positions, q, offsets = positions.astype(dtype), q.astype(dtype), offsets.astype(dtype)
        Mi, Mj = Mi.astype(dtype), Mj.astype(dtype)
    # a direction: (receivers, senders, scatter onto receivers, scatter onto senders)
    directions = ((i, j, Mi, Mj), (j, i, Mj, Mi)) if both_ways else ((i, j, Mi, Mj),)
    p, T = params, config.n_interactions
    d, unit, fc, dfc = _geometry(positions, i, j, offsets, config.cutoff)
    K = config.n_rbf
    centres = onp.linspace(0.0, config.cutoff, K, dtype=dtype)
    sigma = dtype.type(config.cutoff / (K - 1))
    diff = (d[:, None] - centres[None, :]) / sigma  # (P, K)
    e = onp.exp(-0.5 * diff * diff)  # (P, K)

    # forward, keeping each block's intermediates
    h = p["embedding"][species]  # (N, A)
    saved = []
    for t in range(T):
        k = f"interactions.{t}."
        W, sig_a = _filters(e, p[k + "filter.0.weight"], p[k + "filter.0.bias"],
                            p[k + "filter.1.weight"], p[k + "filter.1.bias"])  # (P, F), before the cutoff
        Wc = W * fc[:, None]  # W_ij
        hw = h @ p[k + "in2f.weight"]  # (N, F)
        v = hw * q[:, None]  # what each atom sends, × its q
        m = sum(M_r @ (Wc * v[snd]) for _, snd, M_r, _ in directions)  # (N, F)
        s_b, sig_b = _ssp_and_sigmoid(m @ p[k + "f2out.0.weight"] + p[k + "f2out.0.bias"])  # (N, A)
        saved.append((sig_a, W, Wc, hw, v, sig_b))
        h = h + s_b @ p[k + "f2out.1.weight"] + p[k + "f2out.1.bias"]
    act = ACTIVATIONS[config.readout_activation]
    c = h @ p["readout.0.weight"] + p["readout.0.bias"]  # (N, H)
    out = onp.asarray(act(c)) @ p["readout.1.weight"][:, 0] + p["readout.1.bias"][0]  # (N,)
    scale = p["scale"][species]
    eps = scale * out + p["offset"][species]  # ε_i
    r_ab = config.prior_radii().astype(dtype)[species[i], species[j]]
    u = onp.maximum(1.0 - d / r_ab, 0.0)
    qi, qj = q[i], q[j]
    A = prior_weight * config.prior_strength
    E = float(onp.dot(q, eps) + A * onp.sum(qi * qj * u**3))

    # backward
    dq = eps.copy()  # ∂(Σ q ε)/∂q, direct
    dc = (q * scale)[:, None] * p["readout.1.weight"][:, 0][None, :] * _activation_derivative(config.readout_activation, c)
    dh = dc @ p["readout.0.weight"].T  # (N, A)
    de = onp.zeros_like(e)
    dfc_total = onp.zeros_like(d)
    for t in reversed(range(T)):
        k = f"interactions.{t}."
        sig_a, W, Wc, hw, v, sig_b = saved[t]
        dm = ((dh @ p[k + "f2out.1.weight"].T) * sig_b) @ p[k + "f2out.0.weight"].T  # (N, F)
        dWc, dv = 0.0, 0.0
        for rcv, snd, _, M_s in directions:
            dm_r = dm[rcv]  # (P, F)
            dWc = dWc + dm_r * v[snd]  # W̄_ij = m̄_i ⊙ v_j
            dv = dv + M_s @ (dm_r * Wc)  # v̄_j = Σ_i m̄_i ⊙ W_ij, onto senders
        dq += onp.sum(dv * hw, axis=1)
        dh = dh + (dv * q[:, None]) @ p[k + "in2f.weight"].T  # residual + through in2f
        dfc_total += onp.sum(dWc * W, axis=1)
        de += _filters_backward(dWc * fc[:, None], sig_a, p[k + "filter.0.weight"], p[k + "filter.1.weight"])  # (P, K)
    dd = onp.sum(de * e * (-diff / sigma), axis=1) + dfc_total * dfc  # (P,)
    if A:
        dd += A * qi * qj * 3.0 * u**2 * onp.where(u > 0.0, -1.0 / r_ab, 0.0)
        dq += A * (Mi @ (qj * u**3) + Mj @ (qi * u**3))
    dr = dd[:, None] * unit  # (P, 3)
    dx = Mj @ dr - Mi @ dr
    return E, onp.asarray(dx, dtype=float), onp.asarray(dq, dtype=float)
