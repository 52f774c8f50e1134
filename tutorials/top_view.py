"""Top views of structures on the Cu(110) c(6×2) template, as in the paper's Figure 2.

Used by tutorials 3 and 4. The template's atoms are grey (the second layer darker), added
atoms are coloured by element and lighter the higher they sit above the template's top
layer, and an atom's *area* is proportional to its existence q. Periodic images fill the
rectangular c(6×2) cell around the primitive cell, which is outlined in black.
"""

import numpy as np
from matplotlib.colors import to_rgb

from refgc.surface import top_layer_z

COLOURS = {"Cu": "#b87333", "O": "#d62728"}
RADIUS = {"Cu": 0.85, "O": 0.6}  # drawn radius (Å) of an atom at q = 1
WINDOW = (-0.5, 15.8, -0.5, 7.7)  # x0, x1, y0, y1 (Å): the c(6×2) rectangle and a margin


def atom_colour(k, symbol, z, n_template, z_top):
    """Grey for the template (atom index k < n_template), else the element's colour, lighter with height."""
    if k < n_template:
        return np.full(3, 0.78 if z > z_top - 0.6 else 0.55)
    lighter = np.clip((z - z_top) / 3.5, 0.0, 1.0) * 0.75  # 0 at the top layer, 0.75 at 3.5 Å
    return (1 - lighter) * np.array(to_rgb(COLOURS[symbol])) + lighter


def draw_top_view(ax, symbols, positions, slab, q=None, title=""):
    """Atoms (the template ``slab`` first, then added ones) with periodic images, area ∝ q
    (default 1), lowest drawn first; atoms gone (q < 10⁻³) or below the second layer are left out.
    Call ``ax.figure.canvas.draw()`` first: marker sizes need the axes' size."""
    cell, n_template, z_top = slab.cell[:], len(slab), top_layer_z(slab)
    q = np.ones(len(symbols)) if q is None else q
    frac = np.linalg.solve(cell.T, np.asarray(positions).T).T
    frac[:, :2] %= 1.0  # wrap into the cell along a1, a2
    x = frac @ cell
    points_per_A = ax.get_window_extent().width / (WINDOW[1] - WINDOW[0]) * 72 / ax.figure.dpi
    for k in np.argsort(x[:, 2]):
        if q[k] < 1e-3 or x[k, 2] < z_top - 1.5:
            continue
        colour = atom_colour(k, symbols[k], x[k, 2], n_template, z_top)
        for i in range(-2, 3):
            for j in range(-1, 3):
                p = x[k, :2] + i * cell[0, :2] + j * cell[1, :2]
                if WINDOW[0] - 1.5 < p[0] < WINDOW[1] + 1.5 and WINDOW[2] - 1.5 < p[1] < WINDOW[3] + 1.5:
                    size = q[k] * (2 * RADIUS[symbols[k]] * points_per_A) ** 2  # marker area ∝ existence
                    ax.scatter(*p, s=size, color=colour, edgecolors="k", linewidths=0.4)
    corners = np.array([[0, 0], cell[0, :2], cell[0, :2] + cell[1, :2], cell[1, :2], [0, 0]])
    ax.plot(corners[:, 0], corners[:, 1], "k-", lw=1.2)
    ax.set_xlim(WINDOW[:2])
    ax.set_ylim(WINDOW[2:])
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)
