"""The insertion map equals one-probe-at-a-time derivatives and finite differences."""

import numpy as np
import pytest
from ase import Atoms
from ase.build import fcc110

import refgc
from refgc.insertion import insertion_map
from conftest import one_sided_slope


def test_grid_of_probes_equals_single_probes(model):
    slab = fcc110("Cu", (2, 1, 3), a=3.61, vacuum=6.0)
    result = insertion_map(model, slab, "O", {"O": -0.7}, height=1.4, spacing=0.8)
    flat = result.positions.reshape(-1, 3)
    assert result.values.shape == result.positions.shape[:2] and len(flat) >= 12
    mu_O = model.mu_ref["O"] - 0.7
    for k in (0, 5, len(flat) - 1):
        atoms = slab + Atoms("O", positions=[flat[k]])
        q = np.r_[np.ones(len(slab)), 0.0]
        _, _, dq = refgc.energy_and_gradients(model, atoms, q)
        assert result.values.ravel()[k] == pytest.approx(dq[-1] - mu_O, rel=1e-10, abs=1e-12)
        # and the exact first-order free energy of insertion: a one-sided difference in q
        G = lambda h: refgc.gibbs_free_energy(model, atoms, np.r_[q[:-1], h], {"O": -0.7}, len(slab),  # noqa: E731
                                              template_energy=0.0)[0]
        assert result.values.ravel()[k] == pytest.approx(one_sided_slope(G, 1e-6), rel=1e-5)
    assert np.ptp(result.values) > 1e-3  # the map is not flat


def test_probe_element_needs_a_reference(model):
    bare = refgc.Model(model.config, model.params, {"Cu": -3.6})
    with pytest.raises(ValueError, match="probe element O"):
        insertion_map(bare, fcc110("Cu", (2, 1, 3), a=3.61, vacuum=6.0), "O", {})
