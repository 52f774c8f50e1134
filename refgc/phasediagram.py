r"""Gibbs free energy diagrams: optimize at several Δμ and compare what was found.

A structure with :math:`n_X` added atoms of the element X whose chemical potential
varies has

.. math:: \Delta G(\Delta\mu_X) = \Delta G(\Delta\mu_X^{0}) - n_X\, (\Delta\mu_X - \Delta\mu_X^{0}),

a straight line: its positions do not depend on μ, so every structure found at any Δμ
can be ranked at every other. :func:`phase_diagram` runs :func:`refgc.optimize` at each
value, collects the distinct structures of all runs, and gives the lines, their lower
envelope (the stable structure in each range of Δμ) and the distributions of ΔG and
composition by the Δμ the structures were generated at (the paper's Figures 4 and 5).

Two additions make it the diagram of ab initio atomistic thermodynamics (Reuter &
Scheffler, Phys. Rev. B 65, 035406 (2001)):

* **temperature and pressure**: Δμ of a gas-phase element is Δμ(T, p) (:mod:`refgc.gas`), so
  the diagram can be asked for a (T, p) window instead of Δμ values, gets pressure axes at
  chosen temperatures, and maps the stable phase over T and log p;
* **the bulk limit**: above Δμ* of the first bulk compound (:func:`refgc.bulk.limit`, from
  the labeller's formation energies in the model file) the bulk itself is oxidised, and
  any surface structure there is metastable. The diagram shades that region.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from . import gas
from .bulk import limit
from .gibbs import check_mu
from .grandcanonical import optimize
from .system import check_real

__all__ = ["phase_diagram", "PhaseDiagram"]


@dataclass
class PhaseDiagram:
    species: str  # the element whose Δμ varies
    dmu_values: list  # eV
    results: list  # one GCResult per Δμ
    area: float  # Å²
    mu: dict = field(default_factory=dict)  # Δμ of the other elements, eV (absent: 0)
    bulk_phases: dict = field(default_factory=dict)  # the model's, see refgc.bulk

    def bulk_limit(self):
        """(Δμ*, compound): above Δμ* the first bulk compound is stable, ``(inf, None)`` if none."""
        return limit(self.bulk_phases, self.species, self.mu)

    def metastable(self, dmu):
        """True where a bulk compound is more stable than any surface phase (Δμ ≥ Δμ*)."""
        return np.asarray(dmu) >= self.bulk_limit()[0]

    def runs(self):
        """(Δμ generated at, run) for every answer of every optimization: each restart, and
        the template (ΔG = 0 at every Δμ)."""
        return [(dmu, run) for dmu, res in zip(self.dmu_values, self.results) for run in res.ranked()]

    def gibbs_at(self, run, generated_at, dmu):
        """ΔG (eV per cell) of a structure generated at ``generated_at`` evaluated at ``dmu``."""
        return run.gibbs - self.net(run) * (np.asarray(dmu) - generated_at)

    def net(self, run):
        """How many atoms of the varied element a structure has more than the template
        (added less removed): minus the slope of its line ΔG(Δμ)."""
        return run.composition.get(self.species, 0) - run.removed.get(self.species, 0)

    def structures(self, tol=1e-3):
        """Distinct structures across all Δμ: (Δμ generated at, run), by ΔG at the first Δμ."""
        out = []
        ref = self.dmu_values[0]
        for dmu, run in sorted(self.runs(), key=lambda p: self.gibbs_at(p[1], p[0], ref)):
            g = self.gibbs_at(run, dmu, ref)
            if not any(r.change == run.change and abs(self.gibbs_at(r, d, ref) - g) < tol for d, r in out):
                out.append((dmu, run))
        return out

    def stable(self, dmu):
        """The structure with the lowest ΔG at ``dmu`` among all found: (Δμ generated at, run)."""
        return min(self.structures(), key=lambda p: self.gibbs_at(p[1], p[0], dmu))

    def envelope(self, lo=None, hi=None):
        """The lower envelope of the lines on [lo, hi] (default: the Δμ values' range): a list
        of ``(from, to, (Δμ generated at, run))``, the stable structure in each range. The
        breakpoints are the lines' intersections, exact to rounding."""
        lo = min(self.dmu_values) if lo is None else lo
        hi = max(self.dmu_values) if hi is None else hi
        lines = [(self.gibbs_at(run, gen, 0.0), self.net(run), (gen, run))
                 for gen, run in self.structures()]  # ΔG = a − n Δμ
        # at lo the lowest line; among equals the steepest, which stays lowest beyond lo
        a, n, which = min(lines, key=lambda line: (line[0] - line[1] * lo, -line[1]))
        out, x = [], lo
        while True:
            crossings = [((a2 - a) / (n2 - n), -n2, (a2, n2, w2)) for a2, n2, w2 in lines if n2 > n]
            crossings = [c for c in crossings if c[0] < hi and c[0] >= x - 1e-12]
            if not crossings:
                out.append((x, hi, which))
                return out
            x_next, _, (a2, n2, w2) = min(crossings, key=lambda c: (c[0], c[1]))
            if x_next > x:
                out.append((x, x_next, which))
            a, n, which, x = a2, n2, w2, max(x, x_next)

    def stable_at(self, T, p):
        """The stable structure at temperature T (K) and pressure p (bar) of the gas of the
        varied element: (Δμ generated at, run), and whether a bulk compound is more stable."""
        dmu = gas.delta_mu(self.species, T, p)
        return self.stable(dmu), bool(self.metastable(dmu))

    def plot_lines(self, ax=None, n_lines=12):
        """ΔG(Δμ) of the distinct structures (the lowest ``n_lines`` at any Δμ), meV/Å²."""
        import matplotlib.pyplot as plt

        ax = ax or plt.gca()
        grid = np.linspace(min(self.dmu_values), max(self.dmu_values), 100)
        lines = [(dmu, run, 1e3 * self.gibbs_at(run, dmu, grid) / self.area) for dmu, run in self.structures()]
        lines.sort(key=lambda line: line[2].min())
        colours = plt.get_cmap("tab20").colors
        for k, (dmu, run, g) in enumerate(lines[:n_lines]):
            label = self.label(run)
            ax.plot(grid, g, label=label, color=colours[k % 20], ls="-" if k < 20 else "--")
        ax.set_xlabel(f"Δμ_{self.species} (eV)")
        ax.set_ylabel("ΔG (meV/Å²)")
        ax.legend(fontsize=7)
        return ax

    def label(self, run):
        """A structure's name in figures: what was added and removed, or "bare"."""
        name = run.describe()
        return "bare" if name == "nothing" else name

    def plot(self, ax=None, temperatures=(300, 600, 900), n_lines=10, top_views=True, lo=None, hi=None):
        """The phase diagram as a paper prints it (the paper's Figure 4): ΔG(Δμ) per area of
        the lowest ``n_lines`` structures in grey, their lower envelope bold with each stable
        phase labelled (and drawn from the top with ``top_views``), the region where a bulk
        compound is stable shaded, and one axis of p (bar, log₁₀) per temperature in K when
        the element is a gas with a table (:func:`refgc.gas.has_table`)."""
        import matplotlib.pyplot as plt

        ax = ax or plt.gca()
        lo = min(self.dmu_values) if lo is None else lo
        hi = max(self.dmu_values) if hi is None else hi
        grid = np.linspace(lo, hi, 200)
        scale = 1e3 / self.area  # eV per cell → meV/Å²
        lines = sorted(self.structures(), key=lambda p: self.gibbs_at(p[1], p[0], grid).min())
        for gen, run in lines[:n_lines]:
            ax.plot(grid, scale * self.gibbs_at(run, gen, grid), color="0.75", lw=0.8, zorder=1)
        segments = self.envelope(lo, hi)
        colours = plt.get_cmap("tab10").colors
        for k, (x0, x1, (gen, run)) in enumerate(segments):
            xs = np.array([x0, x1])
            ys = scale * self.gibbs_at(run, gen, xs)
            colour = colours[k % 10]
            ax.plot(xs, ys, color=colour, lw=3, zorder=3, solid_capstyle="round")
            ax.annotate(self.label(run), ((x0 + x1) / 2, ys.mean()), xytext=(0, 8), textcoords="offset points",
                        ha="center", fontsize=8, color=colour, zorder=4)
            if top_views:
                inset = ax.inset_axes([(k + 0.05) / len(segments), 0.02, 0.9 / len(segments), 0.22])
                self.draw_top_view(inset, run)
                for spine in inset.spines.values():
                    spine.set_color(colour)
        x_star, compound = self.bulk_limit()
        if x_star < hi:
            ax.axvspan(max(x_star, lo), hi, color="0.85", zorder=0, label=f"bulk {compound} stable")
            ax.axvline(x_star, color="0.4", lw=1, ls="--", zorder=2)
            ax.legend(loc="upper right", fontsize=8)
        ax.set_xlim(lo, hi)
        ax.set_xlabel(f"Δμ_{self.species} (eV)")
        ax.set_ylabel("ΔG (meV/Å²)")
        for k, T in enumerate(temperatures if gas.has_table(self.species) else ()):
            self._pressure_axis(ax, T, 1.0 + 0.16 * k)
        return ax

    def _pressure_axis(self, ax, T, location):
        """A secondary x axis of log₁₀ p (bar) at temperature T, placed at ``location``."""
        def to_p(dmu):
            return np.log10(gas.pressure(self.species, T, np.asarray(dmu, dtype=float)))

        def to_dmu(log_p):
            return gas.delta_mu(self.species, T, 10.0 ** np.clip(np.asarray(log_p, dtype=float), -300, 300))

        molecule = gas._molecule(self.species)[0]
        top = ax.secondary_xaxis(location, functions=(to_p, to_dmu))
        top.set_xlabel(f"log₁₀ p({molecule}/bar) at {T:g} K", fontsize=8, labelpad=2)
        top.tick_params(labelsize=7)
        return top

    def draw_top_view(self, ax, run):
        """A structure seen from above (ASE's ``plot_atoms``), the template's top layers only."""
        from ase.visualize.plot import plot_atoms

        atoms = run.structure
        z = atoms.positions[:, 2]
        plot_atoms(atoms[z > z.max() - 4.0], ax, radii=0.6)
        ax.set_xticks([])
        ax.set_yticks([])

    def plot_conditions(self, ax=None, T=(300.0, 1000.0), p=(1e-15, 1e2), n=200):
        """The stable phase over temperature (K) and pressure (bar, log scale) of the gas of
        the varied element, coloured by phase, with the bulk compound's boundary."""
        import matplotlib.pyplot as plt
        from matplotlib.colors import ListedColormap

        ax = ax or plt.gca()
        Ts = np.linspace(T[0], T[1], n)
        log_ps = np.linspace(np.log10(p[0]), np.log10(p[1]), n)
        dmu = gas.delta_mu(self.species, Ts[None, :], 10.0 ** log_ps[:, None])  # (n_p, n_T)
        segments = self.envelope(min(dmu.min(), min(self.dmu_values)), max(dmu.max(), max(self.dmu_values)))
        edges = np.array([x1 for _, x1, _ in segments[:-1]])
        phase = np.searchsorted(edges, dmu)  # which segment each (T, p) falls in
        colours = plt.get_cmap("tab10").colors
        cmap = ListedColormap([colours[k % 10] for k in range(len(segments))])
        ax.pcolormesh(Ts, log_ps, phase, cmap=cmap, vmin=-0.5, vmax=len(segments) - 0.5, shading="auto", alpha=0.75)
        for k, (x0, x1, (gen, run)) in enumerate(segments):
            inside = phase == k
            if inside.any():
                i, j = np.argwhere(inside)[len(np.argwhere(inside)) // 2]
                ax.text(Ts[j], log_ps[i], self.label(run), ha="center", va="center", fontsize=8)
        x_star, compound = self.bulk_limit()
        if np.isfinite(x_star) and dmu.min() < x_star < dmu.max():
            ax.contour(Ts, log_ps, dmu, levels=[x_star], colors="k", linewidths=2, linestyles="solid")
            ax.contourf(Ts, log_ps, dmu, levels=[x_star, dmu.max() + 1], colors="none", hatches=["//"])
            ax.plot([], [], color="k", lw=2, label=f"bulk {compound} forms (hatched)")
            ax.legend(loc="lower right", fontsize=8)
        ax.set_xlabel("T (K)")
        ax.set_ylabel(f"log₁₀ p({gas._molecule(self.species)[0]}/bar)")
        return ax

    def plot_distributions(self, fig=None):
        """ΔG at each Δμ of the structures from every Δμ, and their composition (Figure 5)."""
        import matplotlib.pyplot as plt

        n = len(self.dmu_values)
        fig = fig or plt.figure(figsize=(4 * (n + 1), 3.5))
        axes = fig.subplots(1, n + 1)
        for ax, at in zip(axes, self.dmu_values):
            groups = [[1e3 * self.gibbs_at(r, gen, at) / self.area for r in res.runs]
                      for gen, res in zip(self.dmu_values, self.results)]
            lo, hi = min(min(g) for g in groups), max(max(g) for g in groups)
            edges = np.linspace(lo - 0.5, hi + 0.5, 16)  # shared, and wide enough for a group of equal values
            for gen, values in zip(self.dmu_values, groups):
                ax.hist(values, bins=edges, alpha=0.5, label=f"made at {gen:+.2f}")
            ax.set_title(f"evaluated at Δμ_{self.species} = {at:+.2f} eV", fontsize=9)
            ax.set_xlabel("ΔG (meV/Å²)")
        axes[0].legend(fontsize=7)
        counts = [[r.composition.get(self.species, 0) for r in res.runs] for res in self.results]
        top = max(max(c) for c in counts)
        axes[-1].hist(counts, bins=np.arange(top + 2) - 0.5, label=[f"{d:+.2f}" for d in self.dmu_values])
        axes[-1].set_xlabel(f"number of {self.species} added")
        axes[-1].legend(fontsize=7, title="made at Δμ")
        fig.tight_layout()
        return fig


def phase_diagram(slab, dmu_values=None, species="O", mu=None, *, T=None, p=None, n_dmu=5, **optimize_kwargs):
    """Optimize ``slab`` at each Δμ of ``species`` (other Δμ from ``mu``, default 0).

    Give ``dmu_values`` (eV), or a temperature range ``T=(T_min, T_max)`` in K and a
    pressure range ``p=(p_min, p_max)`` in bar of the element's gas: then ``n_dmu`` values
    span the Δμ(T, p) of that window, from Δμ(T_max, p_min) to Δμ(T_min, p_max).
    Keyword arguments go to :func:`refgc.optimize`; ``output``, if given, is a folder
    that gets one subfolder per Δμ. Returns a :class:`PhaseDiagram`, which carries the
    model's bulk phases (the bulk limit).
    """
    from pathlib import Path

    from .modelfile import load_model

    check_mu(mu)  # optimize checks everything else, before its first relaxation
    if not isinstance(species, str):
        raise ValueError(f"species must be a chemical symbol, got {species!r}")
    if (T is None) != (p is None):
        raise ValueError("give T and p together: a temperature range in K and a pressure range in bar")
    if T is not None:
        if dmu_values is not None:
            raise ValueError("give dmu_values or a (T, p) window, not both")
        try:
            (t_lo, t_hi), (p_lo, p_hi) = sorted(T), sorted(p)
        except (TypeError, ValueError):
            raise ValueError(f"T and p must be (min, max) ranges, got T={T!r}, p={p!r}") from None
        ends = gas.delta_mu(species, [t_hi, t_lo], [p_lo, p_hi])
        if not (isinstance(n_dmu, int) and n_dmu >= 2):
            raise ValueError(f"n_dmu must be an integer ≥ 2, got {n_dmu!r}")
        dmu_values = [float(d) for d in np.linspace(ends[0], ends[1], n_dmu)]
    if dmu_values is None:
        raise ValueError("give dmu_values (eV) or a (T, p) window")
    if isinstance(dmu_values, str) or not isinstance(dmu_values, Iterable):
        raise ValueError(f"dmu_values must be a sequence of Δμ in eV, got {dmu_values!r}")
    dmu_values = [check_real(d, f"Δμ of {species} in dmu_values") for d in dmu_values]
    if not dmu_values:
        raise ValueError("dmu_values is empty: give at least one Δμ")
    output = optimize_kwargs.pop("output", None)
    results = []
    for dmu in dmu_values:
        out = None if output is None else Path(output) / f"dmu_{species}_{dmu:+.3f}"
        results.append(optimize(slab, {**(mu or {}), species: dmu}, output=out, **optimize_kwargs))
    model = optimize_kwargs.get("model") or load_model()  # optimize has checked it
    return PhaseDiagram(species=species, dmu_values=dmu_values, results=results, area=results[0].area,
                        mu={s: float(v) for s, v in (mu or {}).items() if s != species},
                        bulk_phases=dict(getattr(model, "bulk_phases", {})))  # a toy potential has none
