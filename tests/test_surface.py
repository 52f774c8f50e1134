"""Reference structures on the c(6×2) template: compositions and sane geometry."""

import numpy as np
import pytest
from ase.neighborlist import neighbor_list

from refgc.surface import (cu100_slab, cu110_added_rows, cu110_c6x2_oxide, cu110_c6x2_template, cu110_slab,
                           cu111_slab, surface_area, top_layer)


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
