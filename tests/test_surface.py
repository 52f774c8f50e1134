"""Reference structures on the c(6×2) template: compositions and sane geometry."""

import numpy as np
import pytest
from ase.neighborlist import neighbor_list

from refgc.surface import (cu100_slab, cu110_added_rows, cu110_c6x2_oxide, cu110_c6x2_template, cu110_slab,
                           cu111_o_phases, cu111_slab, surface_area, top_layer)


@pytest.mark.parametrize("build, added", [(cu110_added_rows, {"Cu": 2, "O": 2}), (cu110_c6x2_oxide, {"Cu": 5, "O": 4})])
def test_reference_structures(build, added):
    template = cu110_c6x2_template()
    atoms = build(template)
    n = len(template)
    assert atoms.get_chemical_symbols()[:n] == template.get_chemical_symbols()
    np.testing.assert_allclose(atoms.positions[:n], template.positions)
    extra = atoms.get_chemical_symbols()[n:]
    assert {s: extra.count(s) for s in set(extra)} == added
    assert np.all(atoms.positions[n:, 2] > template.positions[:, 2].max() + 1.0)
    _, _, d = neighbor_list("ijd", atoms, 2.0)
    assert d.min() > 1.75  # Cu–O bonds, nothing closer
    assert atoms.constraints[0].get_indices().tolist() == template.constraints[0].get_indices().tolist()


@pytest.mark.parametrize("build, per_layer, area_per_atom", [
    (cu100_slab, 4, 0.5), (cu110_slab, 4, 0.5**0.5), (cu111_slab, 9, 3**0.5 / 4)])
def test_facet_slabs(build, per_layer, area_per_atom):
    """Each facet's slab: its layers, its fixed bottom half, the area per surface atom of the
    facet (a², from the fcc geometry) and nearest neighbours at a/√2."""
    a = 3.612
    slab = build(a=a)
    assert len(slab) == 4 * per_layer and len(top_layer(slab)) == per_layer
    assert surface_area(slab) / per_layer == pytest.approx(area_per_atom * a**2)
    fixed = slab.constraints[0].get_indices()
    assert len(fixed) == 2 * per_layer and slab.positions[fixed, 2].max() < slab.positions[top_layer(slab), 2].min() - 2
    _, _, d = neighbor_list("ijd", slab, 3.0)
    assert d.min() == pytest.approx(a / 2**0.5)
    with pytest.raises(ValueError, match="layers"):
        build(layers=2, fixed_layers=3)


def test_cu111_o_phases():
    """O in 3-fold hollows of Cu(111): three top-layer Cu at one distance; an fcc hollow
    straight above a third-layer atom, an hcp hollow above a second-layer one; (√3×√3)R30°
    puts its 3 O √3 nearest-neighbour spacings apart."""
    template = cu111_slab((3, 3))
    a_nn = 3.612 / np.sqrt(2.0)
    z = np.round(template.positions[:, 2], 1)
    levels = np.unique(z)[::-1]
    phases = cu111_o_phases(template)
    assert {n: a.get_chemical_symbols().count("O") for n, a in phases.items()} == {
        "clean": 0, "p(3x3)-O": 1, "p(3x3)-O-hcp": 1, "(sqrt3xsqrt3)R30-O": 3}
    for name, atoms in phases.items():
        assert len(atoms) == len(template) + atoms.get_chemical_symbols().count("O")
        assert np.allclose(atoms.positions[: len(template)], template.positions)
        for o in range(len(template), len(atoms)):
            d = atoms.get_distances(o, range(len(template)), mic=True)
            near = np.sort(d)[:4]
            assert np.allclose(near[:3], near[0]) and near[3] > near[0] + 1.0  # a 3-fold hollow
            assert set(np.where(d < near[0] + 1e-6)[0]) <= set(np.where(z == levels[0])[0])
            below = 1 if name.endswith("hcp") else 2  # the layer the hollow sits straight above
            lateral = atoms.positions[o, :2] - template.positions[z == levels[below], :2]
            lateral = np.linalg.norm(lateral - np.rint(lateral @ np.linalg.inv(template.cell[:2, :2]))
                                     @ template.cell[:2, :2], axis=1)
            assert lateral.min() < 1e-6
    oxygen = phases["(sqrt3xsqrt3)R30-O"]
    d = oxygen.get_all_distances(mic=True)[len(template):, len(template):]
    assert np.allclose(d[np.triu_indices(3, 1)], np.sqrt(3.0) * a_nn)
    with pytest.raises(ValueError, match=r"\(3×3\) Cu\(111\)"):
        cu111_o_phases(cu100_slab((3, 3)))
