# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 1. Fractional existence in a message-passing network
#
# refgc gives every atom an **existence** $q_i \in [0, 1]$. It enters SchNet in two
# places only:
#
# * the aggregation weights each neighbour's message by its existence,
#   $m_i = \sum_j q_j\, W_{ij} \odot (\mathrm{in2f}\, h_j)$;
# * the read-out weights each atomic energy, $E = \sum_i q_i\, \varepsilon_i$ (+ a
#   repulsive prior, also weighted by $q_i q_j$).
#
# This tutorial checks the consequences on a CuO₃ cluster with one extra O atom, as in
# Figure 3 of the paper:
#
# * **embedding equivalence**: with the extra atom at $q = 0$ the other atoms'
#   embeddings are exactly those of the bare cluster (Fig. 3a, b);
# * as $q$ grows to ½ and 1 the embeddings sweep smoothly to those of the full
#   system (Fig. 3c, d);
# * **read-out equivalence and continuity**: $E(q)$ joins the energy without the atom
#   ($q = 0$) to the energy with it ($q = 1$) smoothly (Fig. 3e).
#
# Run it as a script (`python tutorials/01_existence.py`) or open it as a notebook with
# jupytext. `REFGC_SMOKE=1` shortens the loops; figures go to `$REFGC_FIGURES`
# (default `figures/`).

# %%
import os
from pathlib import Path

import matplotlib

matplotlib.use(os.environ.get("MPLBACKEND", "Agg"))
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from ase import Atoms  # noqa: E402

import refgc  # noqa: E402

SMOKE = os.environ.get("REFGC_SMOKE") == "1"
FIGURES = Path(os.environ.get("REFGC_FIGURES", "figures"))
FIGURES.mkdir(parents=True, exist_ok=True)

# %% [markdown]
# ## The model
#
# `refgc.load_model()` loads the model refgc ships: a SchNet for Cu and O (96 features,
# 3 interaction blocks, 20 radial basis functions, $r_c$ = 5 Å) trained on Cu(110)–O
# structures labelled with the SevenNet-0 potential. The conditions below hold for *any*
# parameters (`refgc.init_model(refgc.ModelConfig(species=("Cu", "O")), seed=4)`, a random
# model, shows them as well); a trained model makes the energies mean something.

# %%
model = refgc.load_model()
c = model.config
print(f"{model.provenance.get('name', 'model')}: {c.n_features} features, {c.n_interactions} blocks, "
      f"{c.n_rbf} RBF, r_c = {c.cutoff} Å")

# %% [markdown]
# ## The systems
#
# A planar CuO₃ cluster, and the same cluster with a fourth O atom whose existence we
# will vary.

# %%
cluster = Atoms("CuO3", positions=[[0, 0, 0], [1.82, 0, 0], [-0.75, 1.70, 0.2], [-1.1, -1.55, -0.3]])
extra = Atoms("O", positions=[[0.9, 0.3, 1.6]])
bigger = cluster + extra


def with_extra(q_extra):
    return np.r_[np.ones(len(cluster)), q_extra]


h_bare = refgc.embeddings(model, cluster)[-1]  # final-layer embeddings, (4, 64)
layers = {q: refgc.embeddings(model, bigger, with_extra(q)) for q in (0.0, 0.5, 1.0)}

# %% [markdown]
# **Embedding equivalence**, checked at every layer, not only the last:

# %%
bare_layers = refgc.embeddings(model, cluster)
worst = max(np.max(np.abs(h0[:4] - hb)) for h0, hb in zip(layers[0.0], bare_layers))
print(f"largest change of any embedding of the CuO3 atoms, extra O at q = 0: {worst:.2e}")
assert worst < 1e-10

# %% [markdown]
# ## Two components of the embeddings (Fig. 3a–d)
#
# We plot two of the 64 final-layer embedding dimensions: the two along which the
# CuO₃ atoms move most as the extra atom's existence goes from 0 to 1, and follow
# each atom's embedding along that sweep.

# %%
h_full = layers[1.0][-1]
sweep = np.linspace(0, 1, 11 if SMOKE else 51)
raw = np.array([refgc.embeddings(model, bigger, with_extra(q))[-1] for q in sweep])  # (Q, 5, 64)
dims = np.argsort(raw[:, :4].var(axis=0).sum(axis=0))[-2:]  # the two most-moving dimensions
project = lambda h: h[:, dims]  # noqa: E731  (n, 64) -> (n, 2)
paths = raw[:, :, dims]  # (Q, 5, 2)

labels = ["Cu", "O1", "O2", "O3", "O (extra)"]
colours = ["#b87333", "#d62728", "#ff7f0e", "#9467bd", "#1f77b4"]
fig, axes = plt.subplots(1, 4, figsize=(15, 3.8), sharex=True, sharey=True)

panels = [("(a) CuO$_3$", project(h_bare), None), ("(b) extra O, q = 0", project(layers[0.0][-1]), 0.0),
          ("(c) extra O, q = ½", project(layers[0.5][-1]), 0.5), ("(d) extra O, q = 1", project(h_full), 1.0)]
for ax, (title, points, q) in zip(axes, panels):
    n = len(points)
    for k in range(n):
        size = 120 * (1.0 if k < 4 else max(q, 0.05))  # marker area ∝ existence
        ax.scatter(*points[k], s=size, c=colours[k], edgecolors="k", zorder=3, label=labels[k])
    if q is not None:
        upto = sweep <= q + 1e-12
        for k in range(5):
            ax.plot(paths[upto, k, 0], paths[upto, k, 1], c=colours[k], lw=1, alpha=0.6)
    ax.set_title(title)
    ax.set_xlabel(f"embedding dimension {dims[0]}")
axes[0].set_ylabel(f"embedding dimension {dims[1]}")
axes[-1].legend(fontsize=8, loc="best")
fig.tight_layout()
fig.savefig(FIGURES / "01_embeddings.png", dpi=120)

# %% [markdown]
# ## Energy against existence (Fig. 3e)
#
# $E(q)$ starts exactly at the energy of the bare cluster and ends exactly at the energy
# of the cluster with the atom; in between it is smooth, and its slope $\partial E /
# \partial q$ (computed analytically) is the first-order energy of inserting the atom.

# %%
E_without = refgc.energy(model, cluster)
E_with = refgc.energy(model, bigger)
qs = np.linspace(0, 1, 11 if SMOKE else 101)
E_q, slope = [], []
for q in qs:
    E, _, dE_dq = refgc.energy_and_gradients(model, bigger, with_extra(q))
    E_q.append(E)
    slope.append(dE_dq[-1])
E_q = np.array(E_q)
print(f"E without the atom {E_without:.6f} eV, E(q=0) {E_q[0]:.6f} eV")
print(f"E with the atom    {E_with:.6f} eV, E(q=1) {E_q[-1]:.6f} eV")
print(f"insertion slope dE/dq at q = 0: {slope[0]:.4f} eV")
assert abs(E_q[0] - E_without) < 1e-10 and abs(E_q[-1] - E_with) < 1e-10

fig, ax = plt.subplots(figsize=(5, 3.8))
ax.plot(qs, E_q, "k-", label="E(q)")
ax.axhline(E_without, c="#d62728", ls="--", label="CuO$_3$ (no extra atom)")
ax.axhline(E_with, c="#1f77b4", ls="--", label="CuO$_4$ (extra atom)")
ax.plot([0, 0.15], [E_q[0], E_q[0] + 0.15 * slope[0]], c="0.5", lw=3, alpha=0.6, label="slope ∂E/∂q at q = 0")
ax.set_xlabel("existence q of the extra O")
ax.set_ylabel("energy (eV)")
ax.set_title("(e) read-out equivalence and continuity")
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(FIGURES / "01_energy_vs_existence.png", dpi=120)
print("figures written to", FIGURES)
