"""Reference structures on the c(6×2) template: compositions and sane geometry."""

import numpy as np
import pytest
from ase.neighborlist import neighbor_list

from refgc.surface import cu110_added_rows, cu110_c6x2_oxide, cu110_c6x2_template


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
