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

from .schnet import ACTIVATIONS

__all__ = ["energy_and_gradients"]

LOG2 = float(onp.log(2.0))


def _ssp(x):
    y = onp.exp(-onp.abs(x))
    onp.log1p(y, out=y)
    y += onp.maximum(x, 0.0)
    y -= LOG2
    return y


def _sigmoid(x):
    y = onp.tanh(0.5 * x)
    y += 1.0
    y *= 0.5
    return y


def _activation_derivative(name, x):
    if name == "ssp":
        return _sigmoid(x)
    if name == "silu":
        s = _sigmoid(x)
        return s * (1.0 + x * (1.0 - s))
    if name == "tanh":
        return 1.0 - onp.tanh(x) ** 2
    raise ValueError(f"no derivative for read-out activation {name!r}")


def _geometry(positions, graph, cutoff):
    """Distances, unit vectors and the cutoff with its derivative, per pair."""
    r = positions[graph.j] - positions[graph.i] + graph.offsets  # (P, 3)
    d = onp.sqrt(onp.sum(r * r, axis=1))  # (P,)
    apart = d > 0.0
    unit = onp.zeros_like(r)
    unit[apart] = r[apart] / d[apart, None]  # d = 0: a zero direction, so a zero (not NaN) gradient
    inside = d < cutoff
    fc = onp.where(inside, 0.5 * (onp.cos(onp.pi * d / cutoff) + 1.0), 0.0)
    dfc = onp.where(inside, -0.5 * onp.pi / cutoff * onp.sin(onp.pi * d / cutoff), 0.0)
    return d, unit, fc, dfc


def energy_and_gradients(params, config, species, positions, q, graph):
    """(E, ∂E/∂x (N, 3), ∂E/∂q (N,)) for the arrays of one system; see the module docstring."""
    p, T = params, config.n_interactions
    d, unit, fc, dfc = _geometry(positions, graph, config.cutoff)
    K = config.n_rbf
    centres = onp.linspace(0.0, config.cutoff, K)
    sigma = config.cutoff / (K - 1)
    diff = (d[:, None] - centres[None, :]) / sigma  # (P, K)
    e = onp.exp(-0.5 * diff * diff)  # (P, K)
    Mi, Mj = graph.seg_i.matrix, graph.seg_j.matrix  # scatter onto receivers / senders

    # forward, keeping each block's intermediates
    h = p["embedding"][species]  # (N, A)
    saved = []
    for t in range(T):
        k = f"interactions.{t}."
        a = e @ p[k + "filter.0.weight"] + p[k + "filter.0.bias"]  # (P, F)
        W = _ssp(a) @ p[k + "filter.1.weight"] + p[k + "filter.1.bias"]  # (P, F), before the cutoff
        hw = h @ p[k + "in2f.weight"]  # (N, F)
        vj = (hw * q[:, None])[graph.j]  # (P, F) what each sender sends, × q_j
        Wc = W * fc[:, None]
        m = Mi @ (Wc * vj)  # (N, F)
        b = m @ p[k + "f2out.0.weight"] + p[k + "f2out.0.bias"]  # (N, A)
        saved.append((a, W, Wc, hw, vj, b))
        h = h + _ssp(b) @ p[k + "f2out.1.weight"] + p[k + "f2out.1.bias"]
    act = ACTIVATIONS[config.readout_activation]
    c = h @ p["readout.0.weight"] + p["readout.0.bias"]  # (N, H)
    out = onp.asarray(act(c)) @ p["readout.1.weight"][:, 0] + p["readout.1.bias"][0]  # (N,)
    scale = p["scale"][species]
    eps = scale * out + p["offset"][species]  # ε_i
    r_ab = config.prior_radii()[species[graph.i], species[graph.j]]
    u = onp.maximum(1.0 - d / r_ab, 0.0)
    qi, qj = q[graph.i], q[graph.j]
    E = float(onp.dot(q, eps) + 0.5 * config.prior_strength * onp.sum(qi * qj * u**3))

    # backward
    dq = eps.copy()  # ∂(Σ q ε)/∂q, direct
    dc = (q * scale)[:, None] * p["readout.1.weight"][:, 0][None, :] * _activation_derivative(config.readout_activation, c)
    dh = dc @ p["readout.0.weight"].T  # (N, A)
    dd = onp.zeros_like(d)
    de = onp.zeros_like(e)
    dfc_total = onp.zeros_like(d)
    for t in reversed(range(T)):
        k = f"interactions.{t}."
        a, W, Wc, hw, vj, b = saved[t]
        dm = ((dh @ p[k + "f2out.1.weight"].T) * _sigmoid(b)) @ p[k + "f2out.0.weight"].T  # (N, F)
        dm_i = dm[graph.i]  # (P, F)
        dWc = dm_i * vj  # (P, F)
        dv = Mj @ (dm_i * Wc)  # (N, F) = Σ_i m̄_i ⊙ W_ij, onto senders
        dq += onp.sum(dv * hw, axis=1)
        dh = dh + (dv * q[:, None]) @ p[k + "in2f.weight"].T  # residual + through in2f
        dfc_total += onp.sum(dWc * W, axis=1)
        da = ((dWc * fc[:, None]) @ p[k + "filter.1.weight"].T) * _sigmoid(a)  # (P, F)
        de += da @ p[k + "filter.0.weight"].T  # (P, K)
    dd += onp.sum(de * e * (-diff / sigma), axis=1) + dfc_total * dfc
    if config.prior_strength:
        A = config.prior_strength
        dd += 0.5 * A * qi * qj * 3.0 * u**2 * onp.where(u > 0.0, -1.0 / r_ab, 0.0)
        dq += 0.5 * A * (Mi @ (qj * u**3) + Mj @ (qi * u**3))
    dr = dd[:, None] * unit  # (P, 3)
    dx = Mj @ dr - Mi @ dr
    return E, onp.asarray(dx), onp.asarray(dq)
