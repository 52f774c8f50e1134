"""Symmetries the energy must respect: translation, rotation, permutation, periodicity."""

import numpy as np
import pytest
from ase.build import bulk
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

import refgc
from conftest import REL, random_cluster, random_slab, random_system


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), kind=st.sampled_from(["slab", "cluster"]))
def test_translation(model, seed, kind):
    atoms, q = random_system(seed, kind)
    E, dx, dq = refgc.energy_and_gradients(model, atoms, q)
    moved = atoms.copy()
    moved.translate(np.random.default_rng(seed).uniform(-7, 7, 3))
    E2, dx2, dq2 = refgc.energy_and_gradients(model, moved, q)
    assert E2 == pytest.approx(E, rel=REL)
    np.testing.assert_allclose(dx2, dx, atol=1e-10)
    np.testing.assert_allclose(dq2, dq, atol=1e-10)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_rotation_of_a_cluster(model, seed):
    atoms, q = random_cluster(seed)
    R = Rotation.random(random_state=seed).as_matrix()
    E, dx, dq = refgc.energy_and_gradients(model, atoms, q)
    turned = atoms.copy()
    turned.positions = atoms.positions @ R.T
    E2, dx2, dq2 = refgc.energy_and_gradients(model, turned, q)
    assert E2 == pytest.approx(E, rel=REL)
    np.testing.assert_allclose(dx2, dx @ R.T, atol=1e-10)  # gradients rotate with the atoms
    np.testing.assert_allclose(dq2, dq, atol=1e-10)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), kind=st.sampled_from(["slab", "cluster"]))
def test_permutation(model, seed, kind):
    atoms, q = random_system(seed, kind)
    perm = np.random.default_rng(seed).permutation(len(atoms))
    E, dx, dq = refgc.energy_and_gradients(model, atoms, q)
    E2, dx2, dq2 = refgc.energy_and_gradients(model, atoms[perm], q[perm])
    assert E2 == pytest.approx(E, rel=REL)
    np.testing.assert_allclose(dx2, dx[perm], atol=1e-10)
    np.testing.assert_allclose(dq2, dq[perm], atol=1e-10)


@pytest.mark.parametrize("reps", [(2, 1, 1), (1, 3, 1), (2, 2, 1)])
def test_replicated_slab_has_n_times_the_energy(model, reps):
    atoms, q, _ = random_slab(4)  # fractional q on the adatoms
    n = int(np.prod(reps))
    big = atoms.repeat(reps)
    E_big, dx_big, dq_big = refgc.energy_and_gradients(model, big, np.tile(q, n))
    E, dx, dq = refgc.energy_and_gradients(model, atoms, q)
    assert E_big == pytest.approx(n * E, rel=REL)
    np.testing.assert_allclose(dx_big, np.tile(dx, (n, 1)), atol=1e-10)
    np.testing.assert_allclose(dq_big, np.tile(dq, n), atol=1e-10)


def test_replicated_bulk_with_a_tiny_cell(model_default_size):
    """One atom per cell, cutoff 6 Å: the atom meets dozens of its own images."""
    cu = bulk("Cu", "fcc", a=3.61)
    cu.rattle(0.05, seed=1)
    E = refgc.energy(model_default_size, cu, [0.6])
    E_big = refgc.energy(model_default_size, cu.repeat((2, 3, 1)), np.full(6, 0.6))
    assert E_big == pytest.approx(6 * E, rel=REL)
