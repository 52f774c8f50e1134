"""The ASE calculator agrees with the functions and is never stale."""

import numpy as np
import pytest
from ase.optimize import BFGS

import refgc
from conftest import random_slab


def test_calculator_agrees_with_energy_and_gradients(model):
    atoms, q, _ = random_slab(0)
    atoms.set_array("existence", q)
    atoms.calc = refgc.Calculator(model)
    E, dE_dx, dE_dq = refgc.energy_and_gradients(model, atoms, q)
    assert atoms.get_potential_energy() == pytest.approx(E, rel=1e-12)
    assert atoms.get_potential_energy(force_consistent=True) == pytest.approx(E, rel=1e-12)
    np.testing.assert_allclose(atoms.get_forces(), -dE_dx, atol=1e-12)
    np.testing.assert_allclose(atoms.calc.get_property("existence_gradient", atoms), dE_dq, atol=1e-12)


def test_not_stale_when_only_existence_changes(model):
    atoms, q, _ = random_slab(1)
    atoms.set_array("existence", q)
    atoms.calc = refgc.Calculator(model)
    E1 = atoms.get_potential_energy()
    q2 = q.copy()
    q2[-1] = 0.0
    atoms.arrays["existence"] = q2  # replaced array
    E2 = atoms.get_potential_energy()
    assert E2 == pytest.approx(refgc.energy(model, atoms, q2), rel=1e-12) and E2 != E1
    atoms.arrays["existence"][-2] = 0.25  # changed in place
    assert atoms.get_potential_energy() == pytest.approx(refgc.energy(model, atoms), rel=1e-12)
    del atoms.arrays["existence"]  # removed: everything exists
    assert atoms.get_potential_energy() == pytest.approx(refgc.energy(model, atoms, np.ones(len(atoms))), rel=1e-12)


def test_relaxation_with_the_calculator_tracks_fresh_energies(model):
    """BFGS moves atoms; the calculator's skinned neighbour list must stay correct."""
    atoms, q, _ = random_slab(2, n_add=3)
    atoms.set_array("existence", q)
    calc = refgc.Calculator(model, skin=0.3)
    atoms.calc = calc
    opt = BFGS(atoms, logfile=None, maxstep=0.1)
    for _ in opt.irun(fmax=0.05, steps=15):
        assert atoms.get_potential_energy() == pytest.approx(refgc.energy(model, atoms), rel=1e-11)
    assert calc.neighbors.n_builds >= 1
