"""The hand-written backward pass equals autograd (the reference) to 1e-10.

Together with the finite-difference tests (which go through the public functions, so
through the backward pass, and, below, through autograd), every gradient is checked three
ways: autograd, the hand-written backward, finite differences.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import refgc
from refgc.graph import build_graph
from refgc.system import system_from_atoms
from conftest import EDGE_CASES, SMALL, assert_same_energy_and_gradients, edge_case, perturbed_model, random_system

MODELS = {act: perturbed_model(refgc.ModelConfig(**{**SMALL, "readout_activation": act}), seed=4) for act in ("ssp", "silu", "tanh")}


def both(model, atoms, q):
    s = system_from_atoms(model.species, atoms, q)
    g = build_graph(s.positions, s.cell, s.pbc, model.cutoff)
    return (model.evaluate(s.species, s.positions, s.q, g, method="backward"),
            model.evaluate(s.species, s.positions, s.q, g, method="autograd"))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), kind=st.sampled_from(["slab", "cluster"]),
       activation=st.sampled_from(["ssp", "silu", "tanh"]), edges=st.booleans())
def test_backward_equals_autograd(seed, kind, activation, edges):
    atoms, q = random_system(seed, kind)
    if edges:  # existences exactly at the ends of their range
        q[::3], q[1::3] = 0.0, 1.0
    assert_same_energy_and_gradients(*both(MODELS[activation], atoms, q))


@pytest.mark.parametrize("name", EDGE_CASES)
def test_backward_equals_autograd_at_the_edges(name):
    model = MODELS["ssp"]
    assert_same_energy_and_gradients(*both(model, *edge_case(name, model.config.cutoff)))


def test_autograd_path_against_finite_differences():
    """The reference path itself, against central differences (the public functions use
    the backward pass, whose finite-difference tests are in test_gradients.py)."""
    model = MODELS["silu"]
    atoms, q = random_system(3, "cluster")
    s = system_from_atoms(model.species, atoms, q)
    g = build_graph(s.positions, s.cell, s.pbc, model.cutoff + 0.5)  # a skin: the graph stays valid under the steps
    E, dx, dq = model.evaluate(s.species, s.positions, s.q, g, method="autograd")
    h = 1e-5
    for a, k in [(0, 0), (2, 1), (len(atoms) - 1, 2)]:
        xp, xm = s.positions.copy(), s.positions.copy()
        xp[a, k] += h
        xm[a, k] -= h
        fd = (model.evaluate(s.species, xp, s.q, g, gradients=False) - model.evaluate(s.species, xm, s.q, g, gradients=False)) / (2 * h)
        assert dx[a, k] == pytest.approx(fd, rel=1e-6, abs=1e-8)
    qp, qm = s.q.copy(), s.q.copy()
    qp[1] += h
    qm[1] -= h
    fd = (model.evaluate(s.species, s.positions, qp, g, gradients=False) - model.evaluate(s.species, s.positions, qm, g, gradients=False)) / (2 * h)
    assert dq[1] == pytest.approx(fd, rel=1e-6, abs=1e-8)


def test_unknown_method_is_an_error():
    model = MODELS["ssp"]
    atoms, q = random_system(1, "cluster")
    s = system_from_atoms(model.species, atoms, q)
    g = build_graph(s.positions, s.cell, s.pbc, model.cutoff)
    with pytest.raises(ValueError, match="method must be"):
        model.evaluate(s.species, s.positions, s.q, g, method="jax")


def test_float32_agrees_with_float64():
    model = perturbed_model(refgc.ModelConfig(species=("Cu", "O")), seed=2)  # the default size
    atoms, q = random_system(5, "slab")
    s = system_from_atoms(model.species, atoms, q)
    g = build_graph(s.positions, s.cell, s.pbc, model.cutoff)
    E64, dx64, dq64 = model.evaluate(s.species, s.positions, s.q, g)
    E32, dx32, dq32 = model.evaluate(s.species, s.positions, s.q, g, dtype="float32")
    assert dx32.dtype == np.float64 and E32 == pytest.approx(E64, rel=1e-5)
    assert np.abs(dx32 - dx64).max() < 1e-4 * np.abs(dx64).max()
    assert np.abs(dq32 - dq64).max() < 1e-4 * np.abs(dq64).max()
    assert not np.array_equal(dx32, dx64)  # it really ran in single precision
    with pytest.raises(ValueError, match="float64 only"):
        model.evaluate(s.species, s.positions, s.q, g, method="autograd", dtype="float32")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_backward_on_a_plain_full_list_equals_the_half_layout(seed):
    """A graph that is only a full list (no half/reversed layout, pairs in any order), as
    another neighbour list would give, takes the one-message-per-pair path: same E and gradients."""
    from refgc.graph import Graph

    model = MODELS["ssp"]
    atoms, q = random_system(seed, "slab")
    s = system_from_atoms(model.species, atoms, q)
    half = build_graph(s.positions, s.cell, s.pbc, model.cutoff)
    order = np.random.default_rng(seed).permutation(half.n_pairs)
    plain = Graph.from_pairs(half.i[order], half.j[order], half.offsets[order], len(atoms))
    assert plain.n_half is None
    a = model.evaluate(s.species, s.positions, s.q, plain, method="backward")
    assert_same_energy_and_gradients(a, model.evaluate(s.species, s.positions, s.q, half, method="backward"))
    assert_same_energy_and_gradients(a, model.evaluate(s.species, s.positions, s.q, plain, method="autograd"))
