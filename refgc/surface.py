r"""The Cu(110) c(6×2) template slab of the paper, the reference phases of O on Cu(100) and
Cu(111), and small slab helpers.

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

O on Cu(100)
------------
An fcc(100) surface has a square 1×1 mesh of side :math:`s = a/\sqrt 2` along the two
nearest-neighbour directions :math:`\hat x, \hat y` (the ⟨110⟩ axes of ASE's ``fcc100``),
one atom per layer; layers are :math:`a/2` apart and every other one is shifted by
:math:`(s, s)/2`. A top-layer atom at :math:`(i, j)\,s` has the 4-fold hollow site
:math:`(i + \tfrac12, j + \tfrac12)\,s` beside it, above an atom of the second layer.
The diagonals :math:`(1, \pm 1)` are the in-plane ⟨100⟩ directions: the atoms with the
same :math:`k = i - j` form a *row* along :math:`(1, 1)` (spacing :math:`a`), rows are
:math:`a/2` apart, and the hollow site of atom :math:`(i, j)` lies on row :math:`k`,
between two of its atoms.

The four phases of O on Cu(100) all fit the :math:`(2\sqrt2 \times 2\sqrt2)R45°` cell

.. math:: \mathbf b_1 = (2, 2)\,s, \qquad \mathbf b_2 = (-2, 2)\,s,

area :math:`8 s^2 = 4 a^2`, 8 atoms per layer (the points :math:`i = 0..3`, :math:`j = 0, 1`
are inequivalent modulo :math:`\mathbf b_1, \mathbf b_2`). It is the lattice of the
points with :math:`i, j` even and :math:`i + j \equiv 0 \pmod 4`, so :math:`i, j \bmod 2`,
:math:`i + j \bmod 2` and :math:`k \bmod 4` are well defined in it, and pick the sites:

* **p(2×2)-O**, 0.25 ML: the hollows of the atoms with :math:`i, j` even (2 O);
* **c(2×2)-O**, 0.5 ML: the hollows of the atoms with :math:`i + j` even (4 O);
* **missing row**, the :math:`(\sqrt2 \times 2\sqrt2)R45°`-O reconstruction: every fourth
  row along ⟨100⟩ is gone (:math:`k \equiv 0 \pmod 4`, 2 of the 8 top-layer Cu) and 0.5 ML O
  fills the hollows of the rows beside it (:math:`k` odd, 4 O), where each O sits between
  two Cu of its row: Cu–O–Cu chains along ⟨100⟩. It is c(2×2)-O with every fourth Cu row
  removed (Jensen et al., Phys. Rev. B 42, 9206 (1990); Kittel et al., Surf. Sci. 470, 311
  (2001)).
"""

import numpy as np
from ase import Atoms
from ase.constraints import FixAtoms
from ase.geometry import wrap_positions


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
    _check_layers(layers, fixed_layers)
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


def cu110_slab(size=(2, 2), a=3.612, layers=4, vacuum=10.0, fixed_layers=2):
    """A rectangular Cu(110) slab of ``size`` 1×1 meshes (ASE's ``fcc110``: the first vector
    along [001], length ``a``; the second along [1-10], length ``a/√2``), ``layers`` layers,
    the bottom ``fixed_layers`` of them fixed. ``cu110_slab((2, 2))`` is the 2×2 cell
    (36.9 Å², 4 Cu per layer)."""
    from ase.build import fcc110

    _check_layers(layers, fixed_layers)
    atoms = fcc110("Cu", (*size, layers), a=a, vacuum=vacuum)
    if fixed_layers:
        atoms.set_constraint(FixAtoms(mask=atoms.get_tags() > layers - fixed_layers))
    return atoms


def cu100_slab(size=(2, 2), a=3.612, layers=4, vacuum=10.0, fixed_layers=2):
    """A square Cu(100) slab of ``size`` 1×1 meshes (ASE's ``fcc100``: both vectors along the
    nearest-neighbour directions, length ``a/√2``), ``layers`` layers, the bottom
    ``fixed_layers`` of them fixed. ``cu100_slab((2, 2))`` is the p(2×2) cell (26.1 Å², 4 Cu
    per layer)."""
    from ase.build import fcc100

    _check_layers(layers, fixed_layers)
    atoms = fcc100("Cu", (*size, layers), a=a, vacuum=vacuum)
    if fixed_layers:
        atoms.set_constraint(FixAtoms(mask=atoms.get_tags() > layers - fixed_layers))
    return atoms


def cu111_slab(size=(3, 3), a=3.612, layers=4, vacuum=10.0, fixed_layers=2):
    """A Cu(111) slab of ``size`` 1×1 meshes (ASE's ``fcc111``: two nearest-neighbour vectors
    at 60°, length ``a/√2``; ABC stacking), ``layers`` layers, the bottom ``fixed_layers`` of
    them fixed. ``cu111_slab((3, 3))`` is the (3×3) cell (50.8 Å², 9 Cu per layer)."""
    from ase.build import fcc111

    _check_layers(layers, fixed_layers)
    atoms = fcc111("Cu", (*size, layers), a=a, vacuum=vacuum)
    if fixed_layers:
        atoms.set_constraint(FixAtoms(mask=atoms.get_tags() > layers - fixed_layers))
    return atoms


def cu100_r45_template(a=3.612, layers=4, vacuum=10.0, fixed_layers=2):
    """The (2√2×2√2)R45° cell of Cu(100), ``b1 = (2, 2) s``, ``b2 = (−2, 2) s`` with
    ``s = a/√2`` (52.2 Å² at a = 3.612 Å, 8 Cu per layer): the common cell of the phases of
    :func:`cu100_o_phases`. Parameters and the returned atoms as in
    :func:`cu110_c6x2_template` (sorted by layer, bottom first; tags 1 for the top layer)."""
    _check_layers(layers, fixed_layers)
    s = a / np.sqrt(2.0)  # nearest-neighbour spacing
    d = a / 2.0  # (100) interlayer spacing
    cell = np.array([[2 * s, 2 * s, 0.0], [-2 * s, 2 * s, 0.0], [0.0, 0.0, (layers - 1) * d + 2 * vacuum]])
    positions, tags = [], []
    for n in range(layers):  # n = 0 is the bottom layer
        shift = 0.5 * (n % 2)  # ABAB stacking of (100) layers
        for i in range(4):
            for j in range(2):
                positions.append([(i + shift) * s, (j + shift) * s, vacuum + n * d])
                tags.append(layers - n)
    atoms = Atoms(f"Cu{8 * layers}", positions=positions, cell=cell, pbc=(True, True, False), tags=tags)
    atoms.wrap()
    atoms = _sorted_by_layer(atoms)
    if fixed_layers:
        atoms.set_constraint(FixAtoms(mask=atoms.get_tags() > layers - fixed_layers))
    return atoms


def cu100_o_phases(template, height=0.8):
    """The clean surface and three O phases on the (2√2×2√2)R45° template
    (:func:`cu100_r45_template`), as unrelaxed starting guesses: ``{"clean", "p(2x2)-O",
    "c(2x2)-O", "missing-row"}`` → ``ase.Atoms`` (see the module docstring for the sites).

    O sits ``height`` Å above the top layer in 4-fold hollow sites. Each structure is the
    template less the Cu it removes (in template order, positions as given, ``FixAtoms``
    kept), then its O; its ``info`` has ``"name"`` and ``"removed"``, the number of template
    Cu removed. A template whose cell or top layer is not that of ``cu100_r45_template`` is
    a ``ValueError``."""
    top = np.array(top_layer(template))
    s = np.linalg.norm(template.cell[0]) / (2.0 * np.sqrt(2.0))
    if len(top) != 8 or not np.allclose(template.cell[:2, :2], [[2 * s, 2 * s], [-2 * s, 2 * s]], atol=1e-6):
        raise ValueError("expected a (2√2×2√2)R45° Cu(100) template (cell (2, 2) s, (−2, 2) s) with 8 atoms "
                         f"in its top layer, found {len(top)}")
    ij = np.rint((template.positions[top, :2] - template.positions[top[0], :2]) / s).astype(int)  # (8, 2)
    i, j = ij.T
    k = (i - j) % 4  # the ⟨100⟩ row of each top-layer atom
    hollows = template.positions[top] + [0.5 * s, 0.5 * s, height]  # (8, 3), each on its atom's row
    choose = {"clean": (np.zeros(8, bool), np.zeros(8, bool)),
              "p(2x2)-O": (np.zeros(8, bool), (i % 2 == 0) & (j % 2 == 0)),
              "c(2x2)-O": (np.zeros(8, bool), (i + j) % 2 == 0),
              "missing-row": (k == 0, k % 2 == 1)}  # name: (top Cu removed, hollows with O)
    phases = {}
    for name, (removed, oxygen) in choose.items():
        atoms = template.copy()
        del atoms[top[removed]]
        atoms += Atoms(f"O{oxygen.sum()}", positions=wrap_positions(hollows[oxygen], atoms.cell, atoms.pbc))
        atoms.info.update(name=name, removed=int(removed.sum()))
        phases[name] = atoms
    return phases


def cu111_o_phases(template, height=1.2):
    r"""The clean surface and three phases of chemisorbed O on a (3×3) Cu(111) template
    (:func:`cu111_slab`, at least 3 layers), as unrelaxed starting guesses:
    ``{"clean", "p(3x3)-O", "p(3x3)-O-hcp", "(sqrt3xsqrt3)R30-O"}`` → ``ase.Atoms``.

    O sits ``height`` Å above the top layer in 3-fold hollows: an *fcc* hollow lies above an
    atom of the third layer from the top, an *hcp* hollow above one of the second. p(3×3)-O
    is one O per cell (1/9 ML) in an fcc or an hcp hollow; (√3×√3)R30°-O (1/3 ML) fills the
    fcc hollows at lattice points :math:`(i, j)` of the cell with :math:`i - j \equiv 0
    \pmod 3` (3 O, √3·a/√2 apart). Each structure is the template (positions as given,
    ``FixAtoms`` kept) and its O, ``info`` with ``"name"`` and ``"removed"`` (0), as in
    :func:`cu100_o_phases`. A template whose cell vectors are not equal and at 60°, whose top
    layer does not have 9 atoms, or with fewer than 3 layers, is a ``ValueError``."""
    top = np.array(top_layer(template))
    z = np.round(template.positions[:, 2], 1)
    levels = np.unique(z)[::-1]  # top first
    b1, b2 = template.cell[0, :2], template.cell[1, :2]
    hexagonal = np.isclose(b1 @ b1, b2 @ b2) and np.isclose(b1 @ b2, 0.5 * (b1 @ b1))  # |b1| = |b2|, 60°
    if not hexagonal or len(top) != 9 or len(levels) < 3:
        raise ValueError("expected a (3×3) Cu(111) template (two equal cell vectors at 60°, 9 atoms in its top "
                         f"layer, at least 3 layers), found {len(top)} atoms in its top layer, {len(levels)} "
                         f"layers and cell vectors at {np.degrees(np.arccos(b1 @ b2 / np.sqrt(b1 @ b1 * (b2 @ b2)))):.0f}°")
    height_z = template.positions[top, 2].max() + height
    fcc = template.positions[z == levels[2]].copy()
    hcp = template.positions[z == levels[1]].copy()
    fcc[:, 2] = hcp[:, 2] = height_z
    ij = np.rint(3 * np.linalg.solve(template.cell[:2, :2].T, (fcc[:, :2] - fcc[0, :2]).T).T).astype(int)
    choose = {"clean": np.zeros((0, 3)), "p(3x3)-O": fcc[:1], "p(3x3)-O-hcp": hcp[:1],
              "(sqrt3xsqrt3)R30-O": fcc[(ij[:, 0] - ij[:, 1]) % 3 == 0]}
    phases = {}
    for name, oxygen in choose.items():
        atoms = template.copy()
        atoms += Atoms(f"O{len(oxygen)}", positions=wrap_positions(oxygen, atoms.cell, atoms.pbc))
        atoms.info.update(name=name, removed=0)
        phases[name] = atoms
    return phases


def _check_layers(layers, fixed_layers):
    if layers < 1 or not 0 <= fixed_layers <= layers:
        raise ValueError(f"need layers >= 1 and 0 <= fixed_layers <= layers, got "
                         f"layers={layers}, fixed_layers={fixed_layers}")


def _sorted_by_layer(atoms):
    """Order atoms bottom layer first, then by fractional coordinate along b1, b2."""
    frac = atoms.get_scaled_positions(wrap=True)
    z = np.round(atoms.positions[:, 2], 3)
    order = np.lexsort((np.round(frac[:, 1], 6), np.round(frac[:, 0], 6), z))
    return atoms[order]


def surface_area(atoms):
    """Area of the surface cell, ``|a1 × a2|`` (Å²)."""
    return float(np.linalg.norm(np.cross(atoms.cell[0], atoms.cell[1])))


def top_layer_z(atoms, indices=None):
    """Height (Å) of the topmost atom of the slab (or of the atoms in ``indices``)."""
    z = atoms.positions[:, 2] if indices is None else atoms.positions[indices, 2]
    return float(np.max(z))


#: Å below the topmost atom within which an atom belongs to the top layer (:func:`top_layer`):
#: less than any low-index interlayer spacing of a metal (1.28 Å on Cu(110)), more than a
#: relaxed top layer's buckling.
TOP_LAYER_DEPTH = 0.5


def top_layer(slab):
    """Indices of the top layer's atoms: within :data:`TOP_LAYER_DEPTH` of the topmost atom."""
    return [int(i) for i in np.flatnonzero(slab.positions[:, 2] > top_layer_z(slab) - TOP_LAYER_DEPTH)]


def _next_layer_sites(template):
    """The 6 fcc sites of the layer that would come next on top of the template (Å).

    In the primitive c(6×2) cell ``b1 = 6 a1``, ``b2 = 3 a1 + a2``; the next (110) layer
    sits at ``top + (a1 + a2)/2 + d ẑ`` with ``d = |a1|/2`` the interlayer spacing.
    Returns the sites sorted along a1 and the vectors (a1, a2).
    """
    a1 = template.cell[0] / 6.0
    a2 = template.cell[1] - 3.0 * a1
    top = template.positions[top_layer(template)]
    if len(top) != 6:
        raise ValueError(f"expected a c(6×2) template with 6 atoms in its top layer, found {len(top)}")
    sites = top + 0.5 * (a1 + a2) + [0.0, 0.0, 0.5 * np.linalg.norm(a1)]
    return sites[np.argsort(sites @ a1)], a1, a2


def _with_added(template, copper, oxygen):
    atoms = template.copy()
    atoms += Atoms(f"Cu{len(copper)}O{len(oxygen)}", positions=np.vstack([copper, oxygen]))
    atoms.wrap()
    return atoms


def cu110_added_rows(template):
    """A (2×1)-like added-row structure on the c(6×2) template: Cu–O–Cu chains along [001].

    The (2×1) mesh does not fit the c(6×2) cell (b2 = 3 a1 + a2), so the rows here are
    3 a1 apart: 2 Cu per cell on next-layer sites and 2 O in the long-bridge sites
    between them along [001] (Cu₂O₂ added). An unrelaxed starting guess.
    """
    sites, _, a2 = _next_layer_sites(template)
    rows = sites[[0, 3]]
    return _with_added(template, rows, rows + 0.5 * a2)


def cu110_c6x2_oxide(template):
    """A c(6×2)-like surface oxide: Cu₅O₄ added per primitive cell, the coverages of the
    Feidenhans'l et al. model (10 Cu in the c(6×2) cell, 5/6 ML; 2/3 ML O), as densely
    packed Cu–O–Cu chains along [001]. An unrelaxed starting guess."""
    sites, _, a2 = _next_layer_sites(template)
    return _with_added(template, sites[:5], sites[:4] + 0.5 * a2)
