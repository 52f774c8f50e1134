r"""The Cu(110) c(6×2) template slab of the paper, and two small slab helpers.

Geometry
--------
An fcc(110) surface has a rectangular 1×1 mesh spanned by

.. math::

    \mathbf a_1 = \tfrac{a}{\sqrt 2}\,\hat x \quad \text{along } [1\bar10]
    \text{ (the close-packed rows)}, \qquad
    \mathbf a_2 = a\,\hat y \quad \text{along } [001],

with one atom per layer in that mesh, area :math:`a^2/\sqrt 2`. Successive (110) layers
are :math:`d = a/(2\sqrt 2)` apart and every other layer is shifted by
:math:`(\mathbf a_1 + \mathbf a_2)/2`.

The c(6×2) reconstruction of O on Cu(110) has the centred rectangular cell
:math:`6\mathbf a_1 \times 2\mathbf a_2` (15.3 Å × 7.2 Å, 12 atoms per layer; the first
index is along :math:`[1\bar10]`, as in the usual "(2×1)-O added row" notation). Its
*primitive* cell, which the paper uses as the template, is half of that:

.. math::

    \mathbf b_1 = 6\,\mathbf a_1, \qquad \mathbf b_2 = 3\,\mathbf a_1 + \mathbf a_2,

area :math:`|\mathbf b_1 \times \mathbf b_2| = 6\,|\mathbf a_1||\mathbf a_2|
= 6 a^2/\sqrt 2`, i.e. 6 Cu per layer. The 6 lattice points :math:`i\,\mathbf a_1`,
:math:`i = 0..5`, are inequivalent modulo :math:`(\mathbf b_1, \mathbf b_2)`, so they are
the atoms of one layer.

The default lattice constant :math:`a = 3.612` Å is the one SevenNet-0 (the labeller of
the default data) gives for bulk Cu, so the template is strain-free for that labeller.
"""

import numpy as np
from ase import Atoms
from ase.constraints import FixAtoms


def cu110_c6x2_template(a=3.612, layers=4, vacuum=10.0, fixed_layers=2):
    """The primitive c(6×2) cell of Cu(110): 6 Cu per layer, `layers` layers.

    Parameters
    ----------
    a : float
        Cubic lattice constant of fcc Cu (Å).
    layers : int
        Number of (110) layers.
    vacuum : float
        Vacuum (Å) below the bottom layer and above the top layer (the cell height is
        ``(layers - 1) * d + 2 * vacuum``).
    fixed_layers : int
        The bottom ``fixed_layers`` layers get an ASE ``FixAtoms`` constraint (bulk-like).

    Returns
    -------
    ase.Atoms
        pbc = (True, True, False); atoms sorted layer by layer, bottom layer first, and
        within a layer by position along the rows, so the template order is stable.
        ``tags`` follow ASE's slab convention: 1 for the top layer, ``layers`` for the
        bottom one.
    """
    if layers < 1 or not 0 <= fixed_layers <= layers:
        raise ValueError(f"need layers >= 1 and 0 <= fixed_layers <= layers, got "
                         f"layers={layers}, fixed_layers={fixed_layers}")
    a1 = np.array([a / np.sqrt(2.0), 0.0, 0.0])  # [1-10], nearest-neighbour spacing
    a2 = np.array([0.0, a, 0.0])  # [001]
    d = a / (2.0 * np.sqrt(2.0))  # (110) interlayer spacing
    cell = np.array([6 * a1, 3 * a1 + a2, [0.0, 0.0, (layers - 1) * d + 2 * vacuum]])

    positions, tags = [], []
    for n in range(layers):  # n = 0 is the bottom layer
        shift = 0.5 * (a1 + a2) * (n % 2)  # ABAB stacking of (110) layers
        for i in range(6):
            positions.append(i * a1 + shift + [0.0, 0.0, vacuum + n * d])
            tags.append(layers - n)
    atoms = Atoms(f"Cu{6 * layers}", positions=positions, cell=cell,
                  pbc=(True, True, False), tags=tags)
    atoms.wrap()
    atoms = _sorted_by_layer(atoms)
    if fixed_layers:
        atoms.set_constraint(FixAtoms(mask=atoms.get_tags() > layers - fixed_layers))
    return atoms


def _sorted_by_layer(atoms):
    """Order atoms bottom layer first, then by fractional coordinate along b1, b2."""
    frac = atoms.get_scaled_positions(wrap=True)
    z = np.round(atoms.positions[:, 2], 3)
    order = np.lexsort((np.round(frac[:, 1], 6), np.round(frac[:, 0], 6), z))
    return atoms[order]


def surface_area(atoms):
    """Area of the surface cell, |a1 × a2| (Å²)."""
    return float(np.linalg.norm(np.cross(atoms.cell[0], atoms.cell[1])))


def top_layer_z(atoms, indices=None):
    """Height (Å) of the topmost atom of the slab (or of the atoms in ``indices``)."""
    z = atoms.positions[:, 2] if indices is None else atoms.positions[indices, 2]
    return float(np.max(z))
