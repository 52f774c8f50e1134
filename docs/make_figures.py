"""Draw the site's and the README's figure: the fractional stage of one restart.

One restart of the main job (the Cu(110) c(6×2) template, Δμ_O = −1 eV, Δμ_Cu = 0, the
default model, seed 0), drawn as top views in the manner of the paper's Figure 2: an
atom's area is proportional to its existence q. Run from the repository root:

    python docs/make_figures.py        # writes docs/_static/fractional.png (about 20 s)
"""

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import refgc  # noqa: E402
from refgc.parallel import SerialExecutor  # noqa: E402
from refgc.surface import cu110_c6x2_template  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tutorials"))
from top_view import COLOURS, draw_top_view  # noqa: E402

OUT = ROOT / "docs" / "_static" / "fractional.png"


def main():
    slab = cu110_c6x2_template()
    result = refgc.optimize(slab, {"O": -1.0, "Cu": 0.0}, restarts=1, seed=0,
                            executor=SerialExecutor(), progress=False)
    run = result.runs[0]
    symbols, n_t = np.array(run.symbols), len(slab)
    last = len(run.trajectory) - 1
    steps = [0, *sorted({int(k) for k in np.geomspace(4, last, 3).round()})]
    fig = plt.figure(figsize=(2.9 * (len(steps) + 1), 4.6))
    grid = fig.add_gridspec(2, 2 * (len(steps) + 1), height_ratios=(1, 0.95))
    axes = [fig.add_subplot(grid[0, 2 * k:2 * k + 2]) for k in range(len(steps) + 1)]
    ax_q = fig.add_subplot(grid[1, 1:-1])
    fig.canvas.draw()  # fixes the axes' size, which the marker sizes need
    for ax, k in zip(axes, steps):
        x, q = run.trajectory[k]
        sums = ", ".join(f"Σq$_{{{s}}}$ {q[n_t:][symbols[n_t:] == s].sum():.1f}" for s in ("Cu", "O"))
        draw_top_view(ax, symbols, x, slab, q, f"iteration {k}\n{sums}")
    final = run.structure
    added = " ".join(f"{s}{n}" for s, n in run.composition.items() if n)
    draw_top_view(axes[-1], final.get_chemical_symbols(), final.positions, slab,
                  title=f"discretised, relaxed\nadded {added}, ΔG {run.gibbs:+.2f} eV")
    q_path = np.array([q[n_t:] for _, q in run.trajectory])  # (iterations, candidates)
    for s, colour in COLOURS.items():
        ax_q.plot(q_path[:, symbols[n_t:] == s], c=colour, lw=0.9, alpha=0.8)
        ax_q.plot([], c=colour, label=f"{s} candidates")
    ax_q.set_xlabel("L-BFGS-B iteration")
    ax_q.set_ylabel("existence q")
    ax_q.set_ylim(-0.03, 1.03)
    ax_q.legend(fontsize=8, loc="center right")
    ax_q.set_title("each candidate's existence: grow to 1 or vanish to 0", fontsize=10)
    fig.tight_layout()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT, dpi=100, bbox_inches="tight")
    print(f"{OUT.relative_to(ROOT)}: restart 0, {last} iterations, added {added}, ΔG {run.gibbs:+.3f} eV")


if __name__ == "__main__":
    main()
