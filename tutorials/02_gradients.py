# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 2. ΔG and its gradients, three ways
#
# The grand canonical search needs the Gibbs free energy of a slab with fractional
# candidate atoms,
#
# $$\Delta G(x, q) = E(x, q) - E_\mathrm{slab} - \sum_{i\,\in\,\mathrm{candidates}} q_i \mu_{Z_i},$$
#
# and its gradient in **both** the positions $x$ and the existences $q$. refgc computes
# the gradient with a hand-written backward pass (the default, `refgc/backward.py`) and
# keeps autograd differentiating the plain equations (`refgc/schnet.py`) as the reference.
# Here we compute the gradients of one system three ways (autograd, the hand-written
# backward, finite differences), see that they agree, time the two analytic paths, and
# read what $\partial \Delta G / \partial q$ says.
#
# `REFGC_SMOKE=1` shortens the loops; figures go to `$REFGC_FIGURES` (default `figures/`).

# %%
import os
import time
from pathlib import Path

import matplotlib

matplotlib.use(os.environ.get("MPLBACKEND", "Agg"))
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from ase import Atoms  # noqa: E402

import refgc  # noqa: E402
from refgc.graph import build_graph  # noqa: E402
from refgc.surface import cu110_c6x2_template, top_layer_z  # noqa: E402
from refgc.system import system_from_atoms  # noqa: E402

SMOKE = os.environ.get("REFGC_SMOKE") == "1"
FIGURES = Path(os.environ.get("REFGC_FIGURES", "figures"))
FIGURES.mkdir(parents=True, exist_ok=True)

# %% [markdown]
# ## A slab with fractional candidates
#
# The Cu(110) c(6×2) template (24 Cu) with 8 O and 4 Cu candidates above it at random
# existences, some exactly 0 or 1. The model is a seeded random one of the default size
# (the equations, not the chemistry, are the point here); its references are SevenNet-0's.

# %%
model = refgc.init_model(refgc.ModelConfig(species=("Cu", "O"), cutoff=5.0), seed=1,
                         mu_ref={"Cu": -4.0962, "O": -4.8984})
template = cu110_c6x2_template()
rng = np.random.default_rng(3)
n_o, n_cu = 8, 4
xy = rng.uniform(0, 1, (n_o + n_cu, 2)) @ template.cell[:2, :2]
z = top_layer_z(template) + rng.uniform(1.0, 2.8, n_o + n_cu)
atoms = template + Atoms("O" * n_o + "Cu" * n_cu, positions=np.c_[xy, z])
n_t = len(template)
q = np.r_[np.ones(n_t), rng.uniform(0, 1, n_o + n_cu)]
q[n_t], q[n_t + 1] = 0.0, 1.0
mu = {"O": -1.0}  # Δμ_O; Δμ_Cu = 0
E_slab = refgc.energy(model, template)
dG, dG_dx, dG_dq = refgc.gibbs_free_energy(model, atoms, q, mu, n_t, template_energy=E_slab)
print(f"{len(atoms)} atoms, ΔG = {dG:.4f} eV at Δμ_O = {mu['O']} eV")

# %% [markdown]
# ## 1. Autograd and the hand-written backward pass
#
# Both differentiate the same energy; ΔG's gradient follows from E's by
# $\partial\Delta G/\partial x = \partial E/\partial x$ and
# $\partial\Delta G/\partial q_i = \partial E/\partial q_i - \mu_{Z_i}$.

# %%
s = system_from_atoms(model.species, atoms, q)
graph = build_graph(s.positions, s.cell, s.pbc, model.cutoff)
E_b, dx_b, dq_b = model.evaluate(s.species, s.positions, s.q, graph, method="backward")
E_a, dx_a, dq_a = model.evaluate(s.species, s.positions, s.q, graph, method="autograd")
print(f"energy:  |backward − autograd| = {abs(E_b - E_a):.1e} eV")
print(f"∂E/∂x:   max |backward − autograd| = {np.abs(dx_b - dx_a).max():.1e} eV/Å")
print(f"∂E/∂q:   max |backward − autograd| = {np.abs(dq_b - dq_a).max():.1e} eV")
assert np.allclose(dx_b, dx_a, rtol=1e-10, atol=1e-12) and np.allclose(dq_b, dq_a, rtol=1e-10, atol=1e-12)

# %% [markdown]
# ## 2. Finite differences
#
# Central differences of ΔG, h = 10⁻⁵ (Å or existence), for a sample of coordinates and
# for every candidate's existence; one-sided second-order differences where q is 0 or 1,
# so the steps stay inside [0, 1].

# %%
h = 1e-5


def G(x=atoms.positions, qq=q):
    a = atoms.copy()
    a.positions = x
    return refgc.gibbs_free_energy(model, a, qq, mu, n_t, template_energy=E_slab)[0]


coords = [(n_t + k, c) for k in range(0, n_o + n_cu, 3 if SMOKE else 1) for c in range(3)]
fd_x = []
for a_, c in coords:
    xp, xm = atoms.positions.copy(), atoms.positions.copy()
    xp[a_, c] += h
    xm[a_, c] -= h
    fd_x.append((G(xp) - G(xm)) / (2 * h))
fd_q = []
for k in range(n_t, len(atoms)):
    step = np.zeros(len(atoms))
    step[k] = h
    if q[k] - h < 0:
        fd_q.append((-3 * G(qq=q) + 4 * G(qq=q + step) - G(qq=q + 2 * step)) / (2 * h))
    elif q[k] + h > 1:
        fd_q.append((3 * G(qq=q) - 4 * G(qq=q - step) + G(qq=q - 2 * step)) / (2 * h))
    else:
        fd_q.append((G(qq=q + step) - G(qq=q - step)) / (2 * h))
analytic_x = np.array([dG_dx[a_, c] for a_, c in coords])
print(f"∂ΔG/∂x: max |analytic − FD| = {np.abs(analytic_x - fd_x).max():.1e} eV/Å over {len(coords)} coordinates")
print(f"∂ΔG/∂q: max |analytic − FD| = {np.abs(dG_dq[n_t:] - fd_q).max():.1e} eV over {len(fd_q)} candidates")
assert np.allclose(analytic_x, fd_x, rtol=1e-5, atol=1e-6) and np.allclose(dG_dq[n_t:], fd_q, rtol=1e-5, atol=1e-6)

# %% [markdown]
# ## 3. What ∂ΔG/∂q means
#
# $\partial\Delta G/\partial q_i$ is the first-order free energy of inserting (or removing)
# candidate $i$ where it stands: negative, and the search lets $q_i$ grow; positive, and it
# lets the atom vanish. For a candidate at $q = 0$ it is exact: the atom is absent, feels no
# force, and the derivative is the energy of putting it there minus its chemical potential.
# Raising $\Delta\mu_\mathrm{O}$ lowers every O candidate's ∂ΔG/∂q by the same amount: the gas pushes O in.

# %%
symbols = atoms.get_chemical_symbols()[n_t:]
fig, ax = plt.subplots(figsize=(7, 3.8))
for dmu, marker in ((-2.0, "v"), (-1.0, "o"), (0.0, "^")):
    g = refgc.gibbs_free_energy(model, atoms, q, {"O": dmu}, n_t, template_energy=E_slab)[2][n_t:]
    ax.scatter(range(len(g)), g, marker=marker, label=f"Δμ_O = {dmu:+.0f} eV")
ax.axhline(0, c="0.5", lw=1)
ax.set_xticks(range(len(symbols)), [f"{s}\nq={v:.2f}" for s, v in zip(symbols, q[n_t:])], fontsize=7)
ax.set_ylabel("∂ΔG/∂q (eV)")
ax.set_title("first-order free energy of inserting each candidate")
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(FIGURES / "02_dG_dq.png", dpi=120)

# %% [markdown]
# ## 4. The time of each path
#
# One thread would be the fair comparison (`benchmarks/bench_energy.py` pins it and
# prints the full table); here, the minimum of a few calls in this process. Finite
# differences need 2 evaluations per coordinate and existence: 3N + N times more.


# %%
def best(f, n=3 if SMOKE else 7):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return min(times)


t_back = best(lambda: model.evaluate(s.species, s.positions, s.q, graph, method="backward"))
t_auto = best(lambda: model.evaluate(s.species, s.positions, s.q, graph, method="autograd"))
t_energy = best(lambda: model.evaluate(s.species, s.positions, s.q, graph, gradients=False))
print(f"E only                               {1e3 * t_energy:7.1f} ms")
print(f"E + gradients, hand-written backward {1e3 * t_back:7.1f} ms")
print(f"E + gradients, autograd              {1e3 * t_auto:7.1f} ms")
print(f"all gradients by finite differences  ≈ {1e3 * t_energy * 2 * 4 * len(atoms):7.0f} ms ({8 * len(atoms)} energies)")
