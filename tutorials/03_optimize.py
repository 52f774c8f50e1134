# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 3. One grand canonical optimization
#
# Which atoms does a Cu(110) surface take up in contact with oxygen gas at a given
# chemical potential, and where do they go? A grand canonical search has to choose the
# *number* of atoms as well as their positions. refgc makes that choice continuous:
# every candidate atom carries an existence $q_i \in [0, 1]$, and the Gibbs free energy
#
# $$\Delta G(x, q) = E(x, q) - E_\mathrm{slab} - \sum_{i\,\in\,\mathrm{candidates}} q_i\, \mu_{Z_i},
#   \qquad \mu_Z = \mu_Z^\mathrm{ref} + \Delta\mu_Z,$$
#
# is differentiable in both the positions $x$ and the existences $q$ (tutorial 2). One
# **restart** of `refgc.optimize` does four things:
#
# 1. **insert** candidates at random above the slab (by default one per 7 Å² for each
#    species in `mu`: 8 Cu and 8 O on this cell), between 0.8 and 3.5 Å above its top
#    atom, with random existences $q \sim U(\tfrac12, 1)$;
# 2. **fractional stage**: minimise $\Delta G$ over all positions and the candidates'
#    existences with scipy's L-BFGS-B, the existences held in $[0, 1]$ by bounds and the
#    candidates' heights in the insertion region. L-BFGS-B works on $10\,q$ rather than
#    $q$, so that existences change more slowly than positions and a candidate finds its
#    site before it decides whether to exist (`existence_scale`). A candidate with
#    $\partial\Delta G/\partial q_i < 0$ grows, one with $\partial\Delta G/\partial q_i > 0$
#    shrinks, and most end on a bound, at 0 or at 1;
# 3. **discretise**: candidates with $q \ge \tfrac12$ become whole atoms, the rest are
#    removed;
# 4. **relax** the resulting ordinary structure at $q = 1$ and report its $\Delta G$,
#    against the bare template relaxed with the same model.
#
# Each restart starts from different random insertions; the result ranks them by
# $\Delta G$. This tutorial runs one optimization with the default model, a SchNet
# trained on Cu(110)–O structures labelled with the SevenNet-0 potential, at
# $\Delta\mu_\mathrm{O} = -1.0$ eV (and $\Delta\mu_\mathrm{Cu} = 0$: the surface exchanges
# Cu atoms with bulk copper). It shows the ranked restarts, the fractional stage of the best
# one (the paper's Figure 2), and where the surface would take another O atom.
#
# Run it as a script (`python tutorials/03_optimize.py`) or open it as a notebook with
# jupytext. `REFGC_SMOKE=1` runs 2 restarts instead of 8 and a coarser map; figures go to
# `$REFGC_FIGURES` (default `figures/`).

# %%
import os
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use(os.environ.get("MPLBACKEND", "Agg"))
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from ase import Atoms  # noqa: E402

import refgc  # noqa: E402
from refgc.contacts import TOO_SHORT, short_contacts  # noqa: E402  (Å: shorter than any Cu–Cu, Cu–O, O–O bond)
from refgc.gibbs import chemical_potentials  # noqa: E402
from refgc.graph import NeighborList  # noqa: E402
from refgc.parallel import SerialExecutor  # noqa: E402
from refgc.surface import cu110_c6x2_template, surface_area, top_layer_z  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()))
from top_view import COLOURS, draw_top_view  # noqa: E402  (tutorials/top_view.py)

SMOKE = os.environ.get("REFGC_SMOKE") == "1"
FIGURES = Path(os.environ.get("REFGC_FIGURES", "figures"))
FIGURES.mkdir(parents=True, exist_ok=True)
T0 = time.perf_counter()

# %% [markdown]
# ## The model, the template, the chemical potentials
#
# `refgc.load_model()` loads the shipped model. Its file carries the reference chemical
# potentials of the labeller that made its training data, $\mu_\mathrm{O}^\mathrm{ref} =
# \tfrac12 E(\mathrm{O_2})$ and $\mu_\mathrm{Cu}^\mathrm{ref} = E(\text{bulk Cu})$ per
# atom, so a $\Delta\mu$ means the same thing as it does for SevenNet-0 itself.
#
# The template is the paper's Cu(110) c(6×2) cell: the primitive cell of the centred 6×2
# mesh, 6 Cu per layer, 4 layers, the bottom two fixed (`FixAtoms`, which the optimizer
# respects).

# %%
model = refgc.load_model()
slab = cu110_c6x2_template()
mu = {"O": -1.0, "Cu": 0.0}  # Δμ in eV, relative to model.mu_ref
print(f"model: {model.provenance.get('name', 'default')}, r_c = {model.config.cutoff} Å")
print("mu_ref:", {s: round(v, 4) for s, v in model.mu_ref.items()}, "eV")
print(f"template: {len(slab)} Cu, surface cell {surface_area(slab):.2f} Å²")

# %% [markdown]
# ## The optimization
#
# Restart $k$ draws its insertions from the $k$-th child of
# `numpy.random.SeedSequence(seed)`, so the result depends only on the seed, never on
# where the restarts ran. `SerialExecutor()` runs them one after the other in this
# process; any `concurrent.futures` executor (the default is a process pool) or a Dask
# client runs them in parallel with the same result bit for bit.

# %%
restarts = 2 if SMOKE else 8
t = time.perf_counter()
result = refgc.optimize(slab, mu, model=model, restarts=restarts, seed=0,
                        executor=SerialExecutor(), progress=False)
print(f"{restarts} restarts in {time.perf_counter() - t:.1f} s")

print(f"\n{'rank':>4} {'restart':>7} {'ΔG (eV)':>9} {'ΔG (meV/Å²)':>12} {'added':>8} {'evaluations':>11}")
for rank, run in enumerate(result.runs, 1):
    added = " ".join(f"{s}{n}" for s, n in run.composition.items() if n) or "nothing"
    print(f"{rank:>4} {run.restart:>7} {run.gibbs:>+9.3f} {1e3 * run.gibbs / result.area:>+12.1f} "
          f"{added:>8} {run.n_evaluations:>11}")
print(f"{len(result.distinct())} distinct outcomes (same composition and ΔG within 1 meV)")
print(f"best: ΔG = {result.gibbs:+.3f} eV per cell = {result.gibbs_per_area:+.1f} meV/Å², "
      f"added {result.composition}")

# The result's ΔG is nothing but the free energy of formation, recomputed here from the
# model's energies of the best structure and of the relaxed template, and the reservoir's
# chemical potentials; and the best answer passes the contact check.
mu_abs = chemical_potentials(model, mu)
template = result.template.structure
recomputed = (refgc.energy(model, result.best) - refgc.energy(model, template)
              - sum(mu_abs[s] for s in result.best.get_chemical_symbols()[len(template):]))
print(f"ΔG recomputed: {recomputed:+.6f} eV; contact check of the best: {result.flags(result.best_run) or 'passes'}")
assert abs(recomputed - result.gibbs) < 1e-8
assert result.gibbs <= 0.0  # never worse than the bare template, which is an answer too
assert not result.flags(result.best_run)

# %% [markdown]
# A negative $\Delta G$ means the surface with those atoms is more stable than the bare
# template in contact with O₂ at this $\Delta\mu_\mathrm{O}$ and with bulk copper. Different
# restarts end in different local minima: the search is a global optimization, and
# restarts are how it samples the landscape.
#
# ## The fractional stage of the best restart (the paper's Figure 2)
#
# `run.trajectory` holds $(x, q)$ after every L-BFGS-B iteration of the fractional
# stage, for the template atoms and *every* candidate (`run.symbols` names them), the
# ones that vanish included. We draw top views as in the paper's Figure 2: the area of an
# atom is proportional to its existence, the template's copper is grey, and candidates
# (Cu copper-coloured, O red) are lighter the higher they are above the template's top
# layer. The periodic cell is outlined in black; its images fill the rectangular
# c(6×2) cell around it. The drawing is `draw_top_view` in `top_view.py` next to this
# tutorial (tutorial 4 uses it too).

# %%
run = result.runs[0]
symbols = np.array(run.symbols)
n_t = len(slab)
z_top = top_layer_z(slab)
cell = slab.cell[:]
def existence_sums(q):
    return ", ".join(f"Σq$_{{{s}}}$ {q[n_t:][symbols[n_t:] == s].sum():.1f}" for s in ("Cu", "O"))


last = len(run.trajectory) - 1
steps = sorted({0, *np.geomspace(3, max(last, 3), 4).round().astype(int)})  # early steps change most
fig, axes = plt.subplots(1, len(steps) + 1, figsize=(3.3 * (len(steps) + 1), 2.5))
fig.canvas.draw()  # fixes the axes' size, which the marker sizes need
for ax, k in zip(axes, steps):
    x, q = run.trajectory[k]
    draw_top_view(ax, symbols, x, slab, q, f"iteration {k}\n{existence_sums(q)}")
final = run.structure
draw_top_view(axes[-1], final.get_chemical_symbols(), final.positions, slab,
              title=f"discretised and relaxed\nΔG = {run.gibbs:+.2f} eV, added "
              + " ".join(f"{s}{n}" for s, n in run.composition.items()))
fig.tight_layout()
fig.savefig(FIGURES / "03_trajectory.png", dpi=120)

# %% [markdown]
# At the start the region above the slab is crowded with half-existing atoms; after a few
# dozen iterations only the atoms that lower $\Delta G$ at these chemical potentials are
# left, and the others have gone out of existence ($q = 0$: they send no messages and
# count for nothing in the energy, so they are exactly absent).
#
# ## ΔG along the way
#
# The trajectory also gives $\Delta G(x, q)$ at every iteration. `GCResult` does not keep
# $E_\mathrm{slab}$ (the energy of the template relaxed with the model), but the
# definition of $\Delta G$ gives it back from the final structure, where every $q$ is 1:
# $E_\mathrm{slab} = E(\text{final}) - \Delta G - \sum_X n_X \mu_X$.

# %%
mu_abs = chemical_potentials(model, mu)
E_slab = refgc.energy(model, final) - run.gibbs - sum(n * mu_abs[s] for s, n in run.composition.items())
frame = Atoms(run.symbols, positions=run.trajectory[0][0], cell=slab.cell, pbc=slab.pbc)
neighbors = NeighborList(model.cutoff)
G_path, q_path = [], []
for x, q in run.trajectory:
    frame.positions = x
    dG, _, _ = refgc.gibbs_free_energy(model, frame, q, mu, n_t, template_energy=E_slab, neighbors=neighbors)
    G_path.append(dG)
    q_path.append([q[n_t:][symbols[n_t:] == s].sum() for s in ("Cu", "O")])
q_path = np.array(q_path)

fig, (ax, ax_q) = plt.subplots(1, 2, figsize=(10, 3.6))
ax.plot(G_path, "k.-", ms=3, label="fractional stage ΔG(x, q)")
ax.axhline(run.gibbs, c="#1f77b4", ls="--", label="after discretising and relaxing")
ax.axhline(0, c="0.6", lw=1)
ax.set_xlabel("L-BFGS-B iteration")
ax.set_ylabel("ΔG (eV per cell)")
ax.legend(fontsize=8)
for k, s in enumerate(("Cu", "O")):
    ax_q.plot(q_path[:, k], c=COLOURS[s], label=f"Σq of the {s} candidates")
    ax_q.axhline(run.composition[s], c=COLOURS[s], ls=":", lw=1)
ax_q.set_xlabel("L-BFGS-B iteration")
ax_q.set_ylabel("total existence")
ax_q.legend(fontsize=8)
fig.suptitle(f"best restart at Δμ_O = {mu['O']} eV (dotted: atoms kept)", fontsize=10)
fig.tight_layout()
fig.savefig(FIGURES / "03_gibbs_path.png", dpi=120)
q_end = run.trajectory[-1][1][n_t:]
print(f"fractional stage: ΔG from {G_path[0]:+.2f} to {G_path[-1]:+.3f} eV in {len(G_path) - 1} iterations, "
      f"{np.sum((q_end > 0.01) & (q_end < 0.99))} of {len(q_end)} existences in (0.01, 0.99) at the end; "
      f"discretised and relaxed: {run.gibbs:+.3f} eV")

# %% [markdown]
# Most existences end on a bound, at 0 or 1. Those that stay in between are turned into
# whole atoms or removed by discretising at ½, and the relaxation at $q = 1$ then settles
# the ordinary structure: the dashed line is where that ends.
#
# ## Is it physical?
#
# A machine-learned potential can be wrong far from its training data, and an optimizer
# is very good at finding the places where it is wrong *in the favourable direction*. The
# cheapest check of a result is its shortest distances: a pair of atoms closer than any
# bond that pair forms in a real molecule or solid (Cu₂ 2.22 Å, gas-phase CuO 1.72 Å,
# O₂ 1.21 Å) means a hole in the model, whatever $\Delta G$ says. The remedy is training
# data where the optimizer goes (label what it finds, retrain: active learning), not a
# different optimizer. Tutorial 4 goes further and re-evaluates the structures with
# SevenNet-0 itself.

# %%
for rank, r in enumerate(result.runs, 1):
    # the shortest distance of each element pair with an added atom (all below 3 Å)
    shortest = short_contacts(r.structure, n_t, limits={pair: 3.0 for pair in TOO_SHORT})
    text = [f"{p[0]}–{p[1]} {dist:.2f} Å" + (" (too short)" if dist < TOO_SHORT[p] else "")
            for p, dist in sorted(shortest.items())]
    print(f"rank {rank} ({r.gibbs:+.2f} eV), shortest distances: {', '.join(text) or '-'}")

# %% [markdown]
# ## Where would the surface take another O atom?
#
# Put a probe O atom at $q = 0$ at some point above the surface. It changes nothing
# (tutorial 1), but the gradient does not vanish:
#
# $$\left.\frac{\partial \Delta G}{\partial q_p}\right|_{q_p = 0}
#   = \left.\frac{\partial E}{\partial q_p}\right|_{q_p = 0} - \mu_\mathrm{O}$$
#
# is the **exact first-order free energy of inserting an O atom there**: negative where
# the surface wants it. Probes at $q = 0$ do not see each other either, so
# `refgc.insertion_map` puts one on every point of a grid over the cell at a fixed
# height above the top atom and gets the whole map from a single gradient evaluation
# (the probe–probe pairs, which contribute exactly nothing, are left out of the graph).
#
# Left: the bare template, 0.6 Å above its top layer, about where O binds on Cu(110).
# Right: the best structure found, level with its highest atom (a height of 0).

# %%
spacing = 0.8 if SMOKE else 0.25
maps = [("bare template", slab, refgc.insertion_map(model, slab, "O", mu, height=0.6, spacing=spacing)),
        ("best structure", final, refgc.insertion_map(model, final, "O", mu, height=0.0, spacing=spacing))]


def draw_map(ax, insertion, atoms):
    """The map tiled over the c(6×2) rectangle, with the atoms near the top drawn on it.

    ``insertion.plot(ax)`` draws one cell; this cell is a long thin parallelogram, so we
    tile it with its periodic images, the way the snapshots above are drawn."""
    n1, n2 = insertion.values.shape
    values = np.pad(insertion.values, ((0, 1), (0, 1)), mode="wrap")  # close the seams
    f1, f2 = np.meshgrid(np.arange(n1 + 1) / n1, np.arange(n2 + 1) / n2, indexing="ij")
    xy = f1[..., None] * cell[0, :2] + f2[..., None] * cell[1, :2]  # (n1 + 1, n2 + 1, 2)
    limit = np.percentile(np.abs(insertion.values), 75)  # as InsertionMap.plot: the walls saturate
    for i in range(-2, 3):
        for j in range(-1, 3):
            shift = i * cell[0, :2] + j * cell[1, :2]
            mesh = ax.pcolormesh(xy[..., 0] + shift[0], xy[..., 1] + shift[1], values, cmap="RdBu",
                                 vmin=-limit, vmax=limit, shading="gouraud", rasterized=True)
    near_top = atoms.positions[:, 2] > top_layer_z(atoms) - 1.0
    draw_top_view(ax, atoms.get_chemical_symbols(), atoms.positions, slab, np.where(near_top, 0.35, 0.0))
    k = np.unravel_index(np.argmin(insertion.values), insertion.values.shape)
    ax.plot(*insertion.positions[k][:2], "x", c="k", ms=9, mew=2)
    ax.figure.colorbar(mesh, ax=ax, label="∂ΔG/∂q of an O probe (eV)", shrink=0.9, extend="both")
    return insertion.positions[k][:2]


fig, axes = plt.subplots(1, 2, figsize=(14, 3.7))
fig.canvas.draw()
for ax, (name, atoms, insertion) in zip(axes, maps):
    best_x, best_y = draw_map(ax, insertion, atoms)
    ax.set_title(f"{name}: O probe {insertion.z - z_top:.1f} Å above the template's top layer", fontsize=9)
    print(f"{name}: ∂ΔG/∂q of an O probe from {insertion.values.min():+.3f} eV (x at "
          f"({best_x:.1f}, {best_y:.1f}) Å) to {insertion.values.max():+.3f} eV; "
          f"first-order favourable there once Δμ_O > {mu['O'] + insertion.values.min():+.2f} eV")
fig.tight_layout()
fig.savefig(FIGURES / "03_insertion_map.png", dpi=120)

# %% [markdown]
# Red is where inserting an O lowers $\Delta G$ to first order, blue where it raises it
# (the colour scale is centred on zero and saturates at the 75th percentile of the values:
# right above an atom the probe meets the model's repulsive wall, hundreds of eV); the cross marks the most favourable point, the
# small discs the atoms within 1 Å of the top atom (grey: template). Since
# $\mu_\mathrm{O}$ enters only as $-\Delta\mu_\mathrm{O}$, the map at another
# $\Delta\mu_\mathrm{O}$ is the same picture shifted by the change in $\Delta\mu_\mathrm{O}$:
# the printed threshold is where the most favourable point turns negative.
#
# The map is a *first-order* statement about one atom at a fixed height. The slope at
# $q = 0$ need not tell where $\Delta G$ ends at $q = 1$: $\Delta G(q)$ of a growing atom
# is curved (the model interpolates between two physical end points, tutorial 5), the
# atom and its neighbours relax as it grows, and atoms that stabilise each other (Cu and
# O, for instance) grow together. The optimizer follows all of that; the map is a
# cheap first look at where to start.

# %%
print(f"figures written to {FIGURES}")
print(f"total {time.perf_counter() - T0:.0f} s")
