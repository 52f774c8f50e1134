"""The network's distance floor (ModelConfig.floor_radius_scale): gradients three ways
(autograd, the hand-written backward, finite differences) and on the strict array namespace,
the floor's effect (the network stops changing inside it, only the prior does), a model
without one computing and writing exactly what it did before, and bad values."""

from dataclasses import replace

import numpy as np
import pytest
from ase import Atoms

import refgc
from refgc import schnet
from refgc.graph import build_graph
from refgc.system import system_from_atoms
from conftest import SMALL, assert_same_energy_and_gradients, perturbed_model, random_system

# s_f = 0.6: floors Cu–Cu 1.58 Å, Cu–O 1.19 Å, O–O 0.79 Å, where the random systems'
# closest pairs (1.2 Å and up) and the cases below put pairs across them
FLOORED = perturbed_model(refgc.ModelConfig(**SMALL, floor_radius_scale=0.6), seed=4)
PLAIN = replace(FLOORED, config=replace(FLOORED.config, floor_radius_scale=0.0))


def arrays(model, atoms, q, skin=0.0):
    s = system_from_atoms(model.species, atoms, q)
    return s.species, s.positions, s.q, build_graph(s.positions, s.cell, s.pbc, model.cutoff + skin)


def squeezed(seed):
    """A random cluster pressed to 0.8 of its size: several pairs inside their floors."""
    atoms, q = random_system(seed, "cluster")
    atoms.positions *= 0.8
    return atoms, q


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("make", [squeezed, lambda s: random_system(s, "slab")], ids=["squeezed", "slab"])
def test_backward_equals_autograd_with_a_floor(seed, make):
    args = arrays(FLOORED, *make(seed))
    assert_same_energy_and_gradients(FLOORED.evaluate(*args, method="backward"), FLOORED.evaluate(*args, method="autograd"))


@pytest.mark.parametrize("method", ["backward", "autograd"])
def test_floor_gradients_against_finite_differences(method):
    species, x, q, g = arrays(FLOORED, *squeezed(3), skin=0.5)  # a skin: the graph stays valid under the steps
    d = np.linalg.norm(x[g.j] - x[g.i] + g.offsets, axis=1)
    floors = schnet.pair_values(FLOORED.config.floor_radii(), species, g)
    assert (d < floors).any() and (d > floors).any()  # the steps below cross no doubt which side they are on
    E, dx, dq = FLOORED.evaluate(species, x, q, g, method=method)
    h = 1e-5
    energy = lambda x_, q_: FLOORED.evaluate(species, x_, q_, g, gradients=False)  # noqa: E731
    for a in range(len(x)):
        for k in range(3):
            xp, xm = x.copy(), x.copy()
            xp[a, k] += h
            xm[a, k] -= h
            assert dx[a, k] == pytest.approx((energy(xp, q) - energy(xm, q)) / (2 * h), rel=1e-6, abs=1e-7)
    for a in range(len(q)):
        if 0 < q[a] < 1:
            qp, qm = q.copy(), q.copy()
            qp[a] += h
            qm[a] -= h
            assert dq[a] == pytest.approx((energy(x, qp) - energy(x, qm)) / (2 * h), rel=1e-6, abs=1e-7)


def test_floor_on_the_strict_namespace():
    xps = pytest.importorskip("array_api_strict", reason="pip install '.[test]'")
    args = arrays(FLOORED, *squeezed(1))
    a, b = FLOORED.evaluate(*args), FLOORED.evaluate(*args, backend=xps)
    assert a[0] == pytest.approx(b[0], rel=1e-12)
    np.testing.assert_allclose(a[1], np.asarray(b[1]), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(a[2], np.asarray(b[2]), rtol=1e-10, atol=1e-12)


def network_energy(model, d):
    """The network's part of E (E minus the prior) of a Cu–O pair at distance d."""
    atoms = Atoms("CuO", positions=[[0, 0, 0], [0, 0, d]])
    species, x, q, g = arrays(model, atoms, np.ones(2))
    return model.with_prior(strength=0.0).evaluate(species, x, q, g, gradients=False)


def test_the_network_stops_changing_inside_its_floor():
    f = FLOORED.config.floor_radii()[0, 1]  # Cu–O
    inside = [network_energy(FLOORED, d) for d in (f - 0.6, f - 0.4, f - 0.2)]
    assert np.ptp(inside) < 1e-5  # the softplus tail moves d̃ by w·e^{-10} ≈ 1e-6 Å at f − 0.2 Å
    plain = [network_energy(PLAIN, d) for d in (f - 0.6, f - 0.4, f - 0.2)]
    assert np.ptp(plain) > 1e-3  # without a floor the same network does change there
    above = [network_energy(m, f + 0.4) for m in (FLOORED, PLAIN)]
    assert above[0] == pytest.approx(above[1], abs=1e-6)  # above the floor it is the same network


def test_without_a_floor_nothing_changes(tmp_path):
    atoms, q = random_system(2, "slab")
    args = arrays(PLAIN, atoms, q)
    without = refgc.ModelConfig(**SMALL)
    assert PLAIN.config == without and "floor_radius_scale" not in without.to_dict()
    d = schnet.pair_distances(args[1], args[3])
    assert schnet.pair_floors(without, args[0], args[3]) is None
    assert schnet.network_distances(d, None) is d
    path = tmp_path / "floored.npz"
    refgc.save_model(FLOORED, path)
    again = refgc.load_model(path)
    assert again.config.floor_radius_scale == 0.6
    assert again.evaluate(*arrays(again, atoms, q), gradients=False) == FLOORED.evaluate(*args, gradients=False)
    assert FLOORED.with_prior(floor_radius_scale=0.0).config == without


@pytest.mark.parametrize("value, message", [(-0.1, "floor_radius_scale must be >= 0"),
                                            (5.0, "give floors < cutoff"), (float("nan"), "floor_radius_scale")])
def test_bad_floors_are_one_clear_error(value, message):
    with pytest.raises(ValueError, match=message):
        refgc.ModelConfig(**SMALL, floor_radius_scale=value)
