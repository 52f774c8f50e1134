"""ΔG(x, q) = E(x, q) − E_slab − Σ_candidates q_i μ_i and its bookkeeping."""

import numpy as np
import pytest

import refgc
from refgc.gibbs import chemical_potentials, free_energy, structure_free_energy
from conftest import random_slab


def test_gibbs_is_energy_minus_template_minus_reservoirs(model):
    atoms, q, n_t = random_slab(6, n_add=5)
    mu = {"O": -1.1}  # Cu not named: Δμ_Cu = 0
    dG, dG_dx, dG_dq = refgc.gibbs_free_energy(model, atoms, q, mu, n_t)
    E, dE_dx, dE_dq = refgc.energy_and_gradients(model, atoms, q)
    E_slab = refgc.energy(model, atoms[:n_t])
    mu_abs = {"O": model.mu_ref["O"] - 1.1, "Cu": model.mu_ref["Cu"]}
    symbols = atoms.get_chemical_symbols()[n_t:]
    expected = E - E_slab - sum(qi * mu_abs[s] for qi, s in zip(q[n_t:], symbols))
    assert dG == pytest.approx(expected, rel=1e-12)
    np.testing.assert_array_equal(dG_dx, dE_dx)
    np.testing.assert_allclose(dG_dq[n_t:], dE_dq[n_t:] - [mu_abs[s] for s in symbols], atol=1e-12)
    np.testing.assert_array_equal(dG_dq[:n_t], dE_dq[:n_t])


def test_absent_candidates_cost_nothing(model):
    atoms, q, n_t = random_slab(7, n_add=4)
    q[n_t:] = 0.0
    dG, _, _ = refgc.gibbs_free_energy(model, atoms, q, {"O": -0.5, "Cu": 0.3}, n_t)
    assert dG == pytest.approx(0.0, abs=1e-10)


def test_gibbs_is_linear_in_the_chemical_potential(model):
    """∂ΔG/∂Δμ_O = −(existence-weighted number of O candidates)."""
    atoms, q, n_t = random_slab(8, n_add=6)
    n_O = sum(qi for qi, s in zip(q[n_t:], atoms.get_chemical_symbols()[n_t:]) if s == "O")
    G0 = refgc.gibbs_free_energy(model, atoms, q, {"O": 0.0}, n_t, template_energy=0.0)[0]
    G1 = refgc.gibbs_free_energy(model, atoms, q, {"O": -0.8}, n_t, template_energy=0.0)[0]
    assert (G1 - G0) / -0.8 == pytest.approx(-n_O, rel=1e-10)


def test_template_energy_can_be_given(model):
    atoms, q, n_t = random_slab(9, n_add=2)
    a = refgc.gibbs_free_energy(model, atoms, q, {}, n_t)[0]
    b = refgc.gibbs_free_energy(model, atoms, q, {}, n_t, template_energy=refgc.energy(model, atoms[:n_t]) - 2.0)[0]
    assert b - a == pytest.approx(2.0, rel=1e-12)


def test_chemical_potentials_are_reference_plus_shift(model):
    assert chemical_potentials(model, {"O": -1.0}) == pytest.approx({"O": -5.9, "Cu": -3.6})


def test_structure_free_energy_counts_added_and_removed_atoms():
    """ΔG of a structure with atoms added and template atoms removed: E − E_t − Σ_added μ +
    Σ_removed μ, and the same as free_energy over the whole template at q = 1 and 0."""
    mu = {"Cu": -4.1, "O": -5.3}
    E, E_t = -97.25, -88.5
    dG = structure_free_energy(E, E_t, {"O": 3, "Cu": 1}, {"Cu": 2}, mu)
    assert dG == pytest.approx(E - E_t - 3 * mu["O"] - mu["Cu"] + 2 * mu["Cu"], abs=1e-12)
    q = np.r_[np.ones(6), np.zeros(2), np.ones(4)]  # 8 template atoms, the last 2 removed; 4 added
    mu_template = np.r_[np.zeros(6), np.full(2, mu["Cu"])]
    whole = free_energy(E, q, np.array([mu["O"]] * 3 + [mu["Cu"]]), 8, E_t, mu_template=mu_template)
    assert dG == pytest.approx(whole, abs=1e-12)
    assert structure_free_energy(E, E_t, {}, {}, mu) == pytest.approx(E - E_t, abs=1e-12)
