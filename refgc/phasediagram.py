r"""Gibbs free energy diagrams: optimize at several Δμ and compare what was found.

A structure with :math:`n_X` added atoms of the element X whose chemical potential
varies has

.. math:: \Delta G(\Delta\mu_X) = \Delta G(\Delta\mu_X^{0}) - n_X\, (\Delta\mu_X - \Delta\mu_X^{0}),

a straight line: its positions do not depend on μ, so every structure found at any Δμ
can be ranked at every other. :func:`phase_diagram` runs :func:`refgc.optimize` at each
value, collects the distinct structures of all runs, and gives the lines (the paper's
Figure 4, right) and the distributions of ΔG and composition by the Δμ the structures were
generated at (Figure 5).
"""

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

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

    def runs(self):
        """(Δμ generated at, run) for every answer of every optimization: each restart, and
        the template (ΔG = 0 at every Δμ)."""
        return [(dmu, run) for dmu, res in zip(self.dmu_values, self.results) for run in res.ranked()]

    def gibbs_at(self, run, generated_at, dmu):
        """ΔG (eV per cell) of a structure generated at ``generated_at`` evaluated at ``dmu``."""
        return run.gibbs - run.composition.get(self.species, 0) * (np.asarray(dmu) - generated_at)

    def structures(self, tol=1e-3):
        """Distinct structures across all Δμ: (Δμ generated at, run), by ΔG at the first Δμ."""
        out = []
        ref = self.dmu_values[0]
        for dmu, run in sorted(self.runs(), key=lambda p: self.gibbs_at(p[1], p[0], ref)):
            g = self.gibbs_at(run, dmu, ref)
            if not any(r.composition == run.composition and abs(self.gibbs_at(r, d, ref) - g) < tol for d, r in out):
                out.append((dmu, run))
        return out

    def stable(self, dmu):
        """The structure with the lowest ΔG at ``dmu`` among all found: (Δμ generated at, run)."""
        return min(self.structures(), key=lambda p: self.gibbs_at(p[1], p[0], dmu))

    def plot_lines(self, ax=None, n_lines=12):
        """ΔG(Δμ) of the distinct structures (the lowest ``n_lines`` at any Δμ), meV/Å²."""
        import matplotlib.pyplot as plt

        ax = ax or plt.gca()
        grid = np.linspace(min(self.dmu_values), max(self.dmu_values), 100)
        lines = [(dmu, run, 1e3 * self.gibbs_at(run, dmu, grid) / self.area) for dmu, run in self.structures()]
        lines.sort(key=lambda line: line[2].min())
        colours = plt.get_cmap("tab20").colors
        for k, (dmu, run, g) in enumerate(lines[:n_lines]):
            label = " ".join(f"{s}{n}" for s, n in run.composition.items() if n) or "bare"
            ax.plot(grid, g, label=label, color=colours[k % 20], ls="-" if k < 20 else "--")
        ax.set_xlabel(f"Δμ_{self.species} (eV)")
        ax.set_ylabel("ΔG (meV/Å²)")
        ax.legend(fontsize=7)
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


def phase_diagram(slab, dmu_values, species="O", mu=None, **optimize_kwargs):
    """Optimize ``slab`` at each Δμ of ``species`` (other Δμ from ``mu``, default 0).

    Keyword arguments go to :func:`refgc.optimize`; ``output``, if given, is a folder
    that gets one subfolder per Δμ. Returns a :class:`PhaseDiagram`.
    """
    from pathlib import Path

    check_mu(mu)  # optimize checks everything else, before its first relaxation
    if not isinstance(species, str):
        raise ValueError(f"species must be a chemical symbol, got {species!r}")
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
    return PhaseDiagram(species=species, dmu_values=dmu_values, results=results,
                        area=results[0].area)
