# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 4. A Gibbs free energy diagram
#
# Tutorial 3 ran one grand canonical optimization at one oxygen chemical potential. Here
# we run it at five, $\Delta\mu_\mathrm{O}$ = −2.0, −1.5, −1.0, −0.5 and 0 eV (relative to
# ½ E(O₂) of the labeller; $\Delta\mu_\mathrm{Cu} = 0$ throughout), and put everything
# found on one diagram, as in Figures 4 and 5 of the paper.
#
# The key fact: a structure's atoms and positions do not depend on $\mu$, only its free
# energy does, and linearly. A structure with $n_\mathrm{O}$ added O atoms found at
# $\Delta\mu_\mathrm{O}^0$ has, at any other $\Delta\mu_\mathrm{O}$,
#
# $$\Delta G(\Delta\mu_\mathrm{O}) = \Delta G(\Delta\mu_\mathrm{O}^0)
#   - n_\mathrm{O}\,(\Delta\mu_\mathrm{O} - \Delta\mu_\mathrm{O}^0),$$
#
# a straight line of slope $-n_\mathrm{O}$. So every structure found at any
# $\Delta\mu_\mathrm{O}$ can be ranked at every other one, and the lowest line at each
# $\Delta\mu_\mathrm{O}$ is the most stable structure found there.
#
# At the end the structures are re-evaluated with SevenNet-0, the potential that labelled
# the default model's training data, when it is installed: the model is a fast surrogate,
# and its predictions are only as good as its training data near the structures the
# optimizer finds.
#
# Run it as a script (`python tutorials/04_phase_diagram.py`) or open it as a notebook
# with jupytext. `REFGC_SMOKE=1` runs three $\Delta\mu_\mathrm{O}$ values with 2 restarts
# each and skips SevenNet-0; figures go to `$REFGC_FIGURES` (default `figures/`).

# %%
import os
import sys
import time
import warnings
from pathlib import Path

import matplotlib

matplotlib.use(os.environ.get("MPLBACKEND", "Agg"))
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from ase.optimize import BFGS  # noqa: E402

import refgc  # noqa: E402
from refgc.contacts import short_contacts  # noqa: E402
from refgc.gas import delta_mu, pressure  # noqa: E402
from refgc.parallel import SerialExecutor  # noqa: E402
from refgc.surface import cu110_c6x2_template  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()))
from top_view import draw_top_view  # noqa: E402  (tutorials/top_view.py, shared with tutorial 3)

SMOKE = os.environ.get("REFGC_SMOKE") == "1"
FIGURES = Path(os.environ.get("REFGC_FIGURES", "figures"))
FIGURES.mkdir(parents=True, exist_ok=True)
T0 = time.perf_counter()

# %% [markdown]
# ## The optimizations
#
# `refgc.phase_diagram` calls `refgc.optimize` once per $\Delta\mu_\mathrm{O}$ (every
# keyword it does not know goes to `optimize`). With the same `seed` at every
# $\Delta\mu_\mathrm{O}$, restart $k$ starts from the same random insertions each time, so
# the differences between the columns below come from the chemical potential alone.

# %%
model = refgc.load_model()
slab = cu110_c6x2_template()
n_t = len(slab)
dmu_values = [-1.5, -1.0, -0.5] if SMOKE else [-2.0, -1.5, -1.0, -0.5, 0.0]
restarts = 2 if SMOKE else 8
t = time.perf_counter()
diagram = refgc.phase_diagram(slab, dmu_values, species="O", mu={"Cu": 0.0}, model=model,
                              restarts=restarts, seed=1, executor=SerialExecutor(), progress=False)
print(f"{len(dmu_values)} × {restarts} restarts in {time.perf_counter() - t:.0f} s")


def label(run):
    return " ".join(f"{s}{n}" for s, n in run.composition.items() if n) or "bare"


print(f"\n{'Δμ_O (eV)':>9}  restarts: ΔG (eV per cell) and atoms added, best first")
for dmu, result in zip(diagram.dmu_values, diagram.results):
    print(f"{dmu:>+9.2f}  " + ", ".join(f"{r.gibbs:+.2f} {label(r)}" for r in result.runs))

# %% [markdown]
# ## A sanity check on every structure
#
# A machine-learned potential can be wrong far from its training data, and an optimizer
# is very good at finding the places where it is wrong *in the favourable direction*: a
# low $\Delta G$ may be a real surface oxide or a hole in the model. The cheapest check is
# the shortest distance of each pair of elements: shorter than any bond that pair forms in
# a real molecule or solid (Cu₂ 2.22 Å, gas-phase CuO 1.72 Å, O₂ 1.21 Å), with some slack,
# and the structure is not physical, whatever its $\Delta G$.

# %%
def too_short(atoms):
    """'Cu–Cu 1.04 Å, ...' for each element pair closer than refgc.contacts.TOO_SHORT
    involving an added atom; '' if none."""
    return ", ".join(f"{p[0]}–{p[1]} {d:.2f} Å" for p, d in sorted(short_contacts(atoms, n_t).items()))


structures = diagram.structures()  # [(Δμ generated at, run)], distinct across every Δμ
problems = [too_short(run.structure) for _, run in structures]
print(f"{len(structures)} distinct structures; ΔG (eV per cell) at each Δμ_O:\n")
print(f"{'#':>2} {'added':>8} {'made at':>8} " + "".join(f"{d:>+8.2f}" for d in diagram.dmu_values) + "  too short")
for k, ((made_at, run), problem) in enumerate(zip(structures, problems)):
    g = [diagram.gibbs_at(run, made_at, d) for d in diagram.dmu_values]
    print(f"{k:>2} {label(run):>8} {made_at:>+8.2f} " + "".join(f"{x:>+8.2f}" for x in g) + f"  {problem or '-'}")
n_bad = sum(map(bool, problems))
print(f"\n{n_bad} of {len(structures)} structures have a pair shorter than a physical bond")

# Each line is ΔG(Δμ_O) = ΔG(made at) − n_O (Δμ_O − made at): a structure with more oxygen
# falls faster as the gas gets richer in it, and no line bends.
d0, d1 = diagram.dmu_values[0], diagram.dmu_values[-1]
for made_at, run in structures:
    slope = (diagram.gibbs_at(run, made_at, d1) - diagram.gibbs_at(run, made_at, d0)) / (d1 - d0)
    assert abs(slope + run.composition.get("O", 0)) < 1e-9, (label(run), slope)

# %% [markdown]
# ## The stable structure at each Δμ (the paper's Figure 4)
#
# `diagram.stable(dmu)` is the structure whose line is lowest at `dmu` among all found.
# We also pick the lowest among the structures that pass the check above; with a
# well-trained model the two are the same.


# %%
def lowest(candidates, dmu):
    return min(candidates, key=lambda p: diagram.gibbs_at(p[1], p[0], dmu))


sane = [s for s, problem in zip(structures, problems) if not problem]
print(f"{'Δμ_O (eV)':>9} {'stable':>8} {'ΔG (meV/Å²)':>12}   {'stable, physical':>16} {'ΔG (meV/Å²)':>12}")
for dmu in diagram.dmu_values:
    made_at, run = diagram.stable(dmu)
    line = f"{dmu:>+9.2f} {label(run):>8} {1e3 * diagram.gibbs_at(run, made_at, dmu) / diagram.area:>+12.1f}"
    if sane:
        made_at, run = lowest(sane, dmu)
        line += f"   {label(run):>16} {1e3 * diagram.gibbs_at(run, made_at, dmu) / diagram.area:>+12.1f}"
    print(line)

# The diagram's stable structure is the lower envelope of all lines: at each Δμ_O it is at
# least as low as what that Δμ_O's own optimization found, and never above the bare
# template (ΔG = 0), which every optimization ranks.
for dmu, result in zip(diagram.dmu_values, diagram.results):
    made_at, run = diagram.stable(dmu)
    assert diagram.gibbs_at(run, made_at, dmu) <= min(result.gibbs, 0.0) + 1e-9

n = len(diagram.dmu_values)
rows = [("stable", diagram.stable)] + ([("stable, physical", lambda dmu: lowest(sane, dmu))] if sane else [])
fig, axes = plt.subplots(len(rows), n + 1, figsize=(3.1 * (n + 1), 2.1 * len(rows)), squeeze=False)
fig.canvas.draw()  # fixes the axes' size, which the marker sizes need
draw_top_view(axes[0, 0], slab.get_chemical_symbols(), slab.positions, slab, title="the c(6×2) Cu(110) template")
for row, (name, pick) in zip(axes, rows):
    for ax, dmu in zip(row[1:], diagram.dmu_values):
        made_at, run = pick(dmu)
        problem = too_short(run.structure)
        draw_top_view(ax, run.structure.get_chemical_symbols(), run.structure.positions, slab, title=f"{name} at Δμ_O = {dmu:+.1f} eV:\n{label(run)}, "
                      f"{1e3 * diagram.gibbs_at(run, made_at, dmu) / diagram.area:+.0f} meV/Å²"
                      + (" (too short)" if problem else ""))
for ax in axes[1:, 0]:
    ax.axis("off")
fig.tight_layout()
fig.savefig(FIGURES / "04_stable_structures.png", dpi=120)

fig, (ax, ax_sane) = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
diagram.plot_lines(ax)
ax.set_title("every distinct structure (the lowest 12)", fontsize=10)
grid = np.linspace(min(diagram.dmu_values), max(diagram.dmu_values), 100)
sane_lines = [(1e3 * diagram.gibbs_at(run, made_at, grid) / diagram.area, label(run)) for made_at, run in sane]
for g, name in sorted(sane_lines, key=lambda line: line[0].min()):  # in plot_lines' order, by hand
    ax_sane.plot(grid, g, label=name)
ax_sane.set_xlabel(ax.get_xlabel())
ax_sane.set_title(f"the {len(sane)} that pass the distance check", fontsize=10)
if sane:
    ax_sane.legend(fontsize=7)
for a in (ax, ax_sane):
    a.axhline(0, c="0.6", lw=1, zorder=0)
fig.suptitle("ΔG(Δμ_O) of the structures found", fontsize=11)
fig.tight_layout()
fig.savefig(FIGURES / "04_gibbs_lines.png", dpi=120)

# %% [markdown]
# Each line is one structure; the lower envelope is the phase diagram of what was found.
# Lines with more O fall more steeply, so the O-richer structures take over as
# $\Delta\mu_\mathrm{O}$ grows. The bare template is the flat line at 0 (the relaxed
# template defines $E_\mathrm{slab}$). Left, `diagram.plot_lines()` with every distinct
# structure; right, the same lines for the structures that passed the distance check
# only. The two diagrams differ exactly when the model has holes that the optimizer found.
#
# ## Did each optimization find what is best at its own Δμ? (the paper's Figure 5)
#
# Each panel evaluates *all* restarts, coloured by the $\Delta\mu_\mathrm{O}$ they were
# generated at, at one $\Delta\mu_\mathrm{O}$. If the search targets its chemical
# potential, the structures generated at the panel's $\Delta\mu_\mathrm{O}$ sit at the low
# end of that panel (below, the mean ΔG of each group, as a number). The last panel counts
# the O atoms added, which should grow with $\Delta\mu_\mathrm{O}$. Holes in the model
# upset both: a collapsed structure found at one $\Delta\mu_\mathrm{O}$ can beat
# everything found at the others.

# %%
fig = diagram.plot_distributions()
fig.savefig(FIGURES / "04_distributions.png", dpi=120)
for at in diagram.dmu_values:
    means = {gen: np.mean([diagram.gibbs_at(r, gen, at) for r in res.runs])
             for gen, res in zip(diagram.dmu_values, diagram.results)}
    best_gen = min(means, key=means.get)
    print(f"evaluated at Δμ_O = {at:+.2f} eV: lowest mean ΔG from the restarts made at {best_gen:+.2f} eV"
          + ("" if best_gen == at else "  (not the panel's own Δμ)"))

# %% [markdown]
# ## Temperature, pressure and the bulk oxide
#
# Nobody sets $\Delta\mu_\mathrm{O}$ in a vacuum chamber; they set a temperature and a
# pressure of O₂. For an ideal gas (`refgc.gas`, from the NIST-JANAF tables, $p^\circ$ =
# 1 bar, per O atom, relative to ½E(O₂) without zero-point energy)
#
# $$\Delta\mu_\mathrm{O}(T, p) = \tfrac12\big[H(T) - H(0\,\mathrm{K}) - T S(T)\big]_{\mathrm{O_2}}
#   + \tfrac12 k_B T \ln(p/p^\circ),$$
#
# so each $\Delta\mu_\mathrm{O}$ is a line in the $(T, \log p)$ plane. The diagram also
# knows where it ends. The model file carries its labeller's formation energies of bulk
# Cu₂O and CuO (`model.bulk_phases`, each crystal relaxed with its cell by SevenNet-0).
# Once $\Delta\mu_\mathrm{O}$ pays for the most stable of them per O atom, $\Delta\mu_\mathrm{O}^\ast
# = \Delta H_f(\mathrm{Cu_2O})$, copper oxidises through and through. Any surface
# structure beyond that line is metastable: it can exist only as long as the bulk is slow
# to oxidise.
#
# `diagram.plot()` draws the lines as a paper prints them. The lower envelope is bold,
# with each stable phase labelled and drawn from the top. The bulk-oxide region is shaded,
# and there is a pressure axis for each of three temperatures. `diagram.plot_conditions()`
# maps the stable phase over $T$ and $\log p$.

# %%
x_star, oxide = diagram.bulk_limit()
print("bulk phases of the model's labeller:",
      ", ".join(f"{name} ΔH_f {p['formation_energy']:+.3f} eV per formula unit" for name, p in model.bulk_phases.items()))
print(f"bulk {oxide} is stable above Δμ_O* = {x_star:+.3f} eV")
for x0, x1, (made_at, run) in diagram.envelope():
    state = "metastable (bulk oxide)" if x0 >= x_star else "stable" if x1 <= x_star else "stable, then metastable"
    print(f"  {x0:+.3f} to {x1:+.3f} eV: {diagram.label(run):>10}  {state}")
for T in (300, 600, 900):
    print(f"  at {T} K: the bulk oxide forms above p(O₂) = {pressure('O', T, x_star):.1e} bar")

fig = plt.figure(figsize=(13, 5.2))
ax_lines, ax_map = fig.subplots(1, 2, gridspec_kw={"width_ratios": (1.25, 1)})
diagram.plot(ax_lines, temperatures=(300, 600, 900))
diagram.plot_conditions(ax_map, T=(300, 1000), p=(1e-15, 1e2))
fig.tight_layout()
fig.savefig(FIGURES / "04_conditions.png", dpi=120)

# The envelope is the lowest line everywhere, its segments meet, and the map agrees with it.
segments = diagram.envelope()
assert all(abs(a[1] - b[0]) < 1e-12 for a, b in zip(segments, segments[1:]))
for x in np.linspace(min(diagram.dmu_values), max(diagram.dmu_values), 25):
    (gen, run) = next(seg[2] for seg in segments if seg[0] - 1e-9 <= x <= seg[1] + 1e-9)
    assert diagram.gibbs_at(run, gen, x) <= min(diagram.gibbs_at(r, g, x) for g, r in structures) + 1e-9
(gen, run), metastable = diagram.stable_at(600, 1e-9)
print(f"at 600 K and 10⁻⁹ bar (Δμ_O = {delta_mu('O', 600, 1e-9):+.2f} eV): {diagram.label(run)}"
      + (", metastable against bulk oxidation" if metastable else ""))

# %% [markdown]
# The known picture of O on Cu(110) is, as the O pressure rises: bare Cu(110), then the
# p(2×1) added rows (–Cu–O– rows along every second trough), then the c(6×2), and then bulk
# Cu₂O. Read the printed envelope against it. Two things limit the comparison. A phase
# is on the diagram only if some restart found it: a coarse Δμ grid or few restarts can
# miss one, and the c(6×2) cell holds a p(2×1)-like added row only in the form its size
# allows. And the lines are the model's. How far they are from its labeller's is the
# subject of the next section and of `refgc validate`.

# %% [markdown]
# ## Back to the labeller: SevenNet-0
#
# The model was trained on SevenNet-0 energies, so SevenNet-0 is the reference it should
# reproduce (the paper checks its structures with DFT the same way). For each distinct
# structure we compute, with SevenNet-0,
#
# $$\Delta G = E - E_\mathrm{slab} - \sum_X n_X\,(\mu_X^\mathrm{ref} + \Delta\mu_X),$$
#
# with $E_\mathrm{slab}$ the template relaxed with SevenNet-0 and $\mu^\mathrm{ref}$ from
# the model file, which are SevenNet-0's own references (½E(O₂), bulk Cu per atom).
# First at the model's geometry (a single point: is the model's energy right there?),
# then after relaxing with SevenNet-0 (BFGS, $f_\mathrm{max}$ = 0.05 eV/Å, the bottom
# layers fixed: is it a minimum of SevenNet-0 too?). The difference of two $\Delta G$ at
# the same $\Delta\mu$ does not depend on $\Delta\mu$, so we compare at the
# $\Delta\mu_\mathrm{O}$ each structure was made at.
#
# Structures that fail the distance check are only evaluated at the model's geometry,
# and even that number means little: SevenNet-0 is a machine-learned potential too, with
# no data at such distances, and can be as wrong there as the model (relaxing such a
# structure with it can run into its own short-range hole). The comparison that means
# something is on the physical structures, plotted below.

# %%
def sevennet_or_none():
    """SevenNet-0 on the CPU, or None and the reason it cannot be used."""
    if SMOKE:
        return None, "smoke mode (REFGC_SMOKE=1): SevenNet-0 relaxations take minutes"
    try:
        import torch
        from sevenn.calculator import SevenNetCalculator
    except ImportError as err:
        return None, f"SevenNet-0 is not installed ({err}); pip install \".[label]\" to compare"
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*accelerator.*")
        return SevenNetCalculator("7net-0", device="cpu"), ""


def relaxed(atoms, calc, steps=200):
    """A copy relaxed with ``calc`` (its FixAtoms kept), and whether BFGS converged."""
    atoms = atoms.copy()
    atoms.calc = calc
    converged = BFGS(atoms, logfile=None).run(fmax=0.05, steps=steps)
    return atoms, converged


calc, why = sevennet_or_none()
if calc is None:
    print(f"Skipping the SevenNet-0 comparison: {why}.")
else:
    t = time.perf_counter()
    E_slab_7 = model.provenance.get("references", {}).get("E_template_relaxed")
    if E_slab_7 is None:  # not in the model file: relax the template ourselves
        E_slab_7 = relaxed(slab, calc)[0].get_potential_energy()
    mu_ref = model.mu_ref
    rows = []
    for (made_at, run), problem in zip(structures, problems):
        mu_abs = {"Cu": mu_ref["Cu"], "O": mu_ref["O"] + made_at}
        reservoir = sum(n * mu_abs[s] for s, n in run.composition.items())
        atoms = run.structure.copy()
        atoms.calc = calc
        dG_single = atoms.get_potential_energy() - E_slab_7 - reservoir
        dG_relaxed, note = np.nan, problem
        if not problem:
            final, converged = relaxed(run.structure, calc)
            dG_relaxed = final.get_potential_energy() - E_slab_7 - reservoir
            note = too_short(final) or ("" if converged else "BFGS did not converge in 200 steps")
        rows.append((made_at, run, dG_single, dG_relaxed, note))
    print(f"SevenNet-0 on {len(rows)} structures in {time.perf_counter() - t:.0f} s "
          f"(SevenNet-0's relaxed template: E_slab = {E_slab_7:.3f} eV)\n")
    print("ΔG in eV per cell at the Δμ_O each structure was made at")
    print(f"{'added':>8} {'made at':>8} {'model':>8} {'SevenNet-0':>11} {'SevenNet-0':>11} {'model −':>9}  note")
    print(f"{'':>8} {'':>8} {'':>8} {'same x':>11} {'relaxed':>11} {'SevenNet-0':>9}")
    for made_at, run, single, relax, note in rows:
        relax_text = "-" if np.isnan(relax) else f"{relax:+.2f}"
        print(f"{label(run):>8} {made_at:>+8.2f} {run.gibbs:>+8.2f} {single:>+11.2f} "
              f"{relax_text:>11} {run.gibbs - single:>+9.2f}  {note}")
    ok = [r for r in rows if not np.isnan(r[3]) and not r[4]]
    if ok:
        print("\nstable at each Δμ_O according to SevenNet-0 (relaxed, physical structures only):")
        for dmu in diagram.dmu_values:
            made_at, run, _, relax, _ = min(ok, key=lambda r: r[3] - r[1].composition.get("O", 0) * (dmu - r[0]))
            print(f"  {dmu:+.2f} eV: {label(run)}, ΔG {relax - run.composition.get('O', 0) * (dmu - made_at):+.2f} eV")

    if ok:
        fig, ax = plt.subplots(figsize=(5, 4.5))
        model_g = np.array([r[1].gibbs for r in ok])
        ax.scatter([r[2] for r in ok], model_g, c="k", label="SevenNet-0 at the model's geometry")
        ax.scatter([r[3] for r in ok], model_g, facecolors="none", edgecolors="#1f77b4",
                   label="SevenNet-0 relaxed")
        for made_at, run, single, _, _ in ok:
            ax.annotate(label(run), (single, run.gibbs), fontsize=7, xytext=(4, -8), textcoords="offset points")
        values = np.r_[model_g, [r[2] for r in ok], [r[3] for r in ok]]
        lo, hi = values.min() - 0.2, values.max() + 0.2
        ax.plot([lo, hi], [lo, hi], c="0.6", lw=1, zorder=0)
        ax.set_xlabel("ΔG SevenNet-0 (eV per cell)")
        ax.set_ylabel("ΔG model (eV per cell)")
        ax.set_title(f"the {len(ok)} physical structures, each at the Δμ_O it was made at", fontsize=9)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(FIGURES / "04_sevennet.png", dpi=120)

# %%
print(f"figures written to {FIGURES}")
print(f"total {time.perf_counter() - T0:.0f} s")
