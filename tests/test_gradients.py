"""∂E/∂x, ∂E/∂q and the ΔG gradients against finite differences.

Central differences (h = 1e-5 Å) inside [0, 1]; at q = 0 and q = 1 exactly, one-sided
second-order differences that stay inside the allowed range.
"""

import numpy as np
import pytest
from ase import Atoms
from autograd import grad

import refgc
from refgc import schnet
from refgc.graph import build_graph
from refgc.system import system_from_atoms
from conftest import edge_case, one_sided_slope, random_cluster, random_slab

H = 1e-5


def fd_positions(f, atoms):
    g = np.zeros((len(atoms), 3))
    for a in range(len(atoms)):
        for k in range(3):
            plus, minus = atoms.copy(), atoms.copy()
            plus.positions[a, k] += H
            minus.positions[a, k] -= H
            g[a, k] = (f(plus) - f(minus)) / (2 * H)
    return g


def fd_existence(f, q):
    """Derivative of f(q) per component; one-sided where q is 0 or 1."""
    g = np.zeros(len(q))
    for a in range(len(q)):
        def at(delta):
            qq = q.copy()
            qq[a] += delta
            return f(qq)
        if q[a] - H < 0:
            g[a] = one_sided_slope(at, H)
        elif q[a] + H > 1:
            g[a] = one_sided_slope(at, -H)
        else:
            g[a] = (at(H) - at(-H)) / (2 * H)
    return g


def assert_gradients(model, atoms, q):
    _, dE_dx, dE_dq = refgc.energy_and_gradients(model, atoms, q)
    fd_x = fd_positions(lambda a: refgc.energy(model, a, q), atoms)
    fd_q = fd_existence(lambda qq: refgc.energy(model, atoms, qq), q)
    np.testing.assert_allclose(dE_dx, fd_x, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(dE_dq, fd_q, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("seed", [0, 1])
def test_slab_gradients(model, seed):
    atoms, q, _ = random_slab(seed, n_add=5, size=(2, 1, 3))
    q[-1], q[-2] = 0.0, 1.0  # the boundaries of the existence range
    assert_gradients(model, atoms, q)


def test_cluster_gradients(model):
    atoms, q = random_cluster(11, n=7)
    q[0], q[1] = 0.0, 1.0
    assert_gradients(model, atoms, q)


@pytest.mark.parametrize("name", ["near the cutoff", "inside the prior", "own images"])
def test_gradients_at_the_edges(model, name):
    atoms, q = edge_case(name, model.config.cutoff)
    if name == "own images":
        assert build_graph(atoms.positions, atoms.cell[:], atoms.pbc, model.config.cutoff).n_pairs > 20
    assert_gradients(model, atoms, q)


def test_coincident_atoms_give_finite_gradients(model):
    """Candidates may start on top of each other: no NaN, and the prior pushes q down."""
    atoms, q = edge_case("coincident", model.config.cutoff)
    E, dE_dx, dE_dq = refgc.energy_and_gradients(model, atoms, q)
    assert np.isfinite(E) and np.all(np.isfinite(dE_dx)) and np.all(np.isfinite(dE_dq))
    apart = Atoms("CuOO", positions=[[0, 0, 0], [1.9, 0, 0], [1.9, 0, 2.5]])
    assert E > refgc.energy(model, apart, q)  # the prior repels


def test_gibbs_gradients(model):
    atoms, q, n_t = random_slab(3, n_add=4, size=(2, 1, 3))
    q[-1] = 0.0
    mu = {"O": -0.7, "Cu": 0.2}
    _, dG_dx, dG_dq = refgc.gibbs_free_energy(model, atoms, q, mu, n_t)
    G = lambda a, qq: refgc.gibbs_free_energy(model, a, qq, mu, n_t, template_energy=-100.0)[0]  # noqa: E731
    np.testing.assert_allclose(dG_dx, fd_positions(lambda a: G(a, q), atoms), rtol=1e-6, atol=1e-7)
    fd_q = fd_existence(lambda qc: G(atoms, np.r_[q[:n_t], qc]), q[n_t:])
    np.testing.assert_allclose(dG_dq[n_t:], fd_q, rtol=1e-6, atol=1e-7)


def test_second_derivatives_for_force_training(model):
    """∂/∂θ of a force loss (needs the VJPs of gather, scatter_add and ssp to be
    differentiable themselves) against a finite difference in one parameter."""
    atoms, q, _ = random_slab(5, n_add=3, size=(2, 1, 2))
    system = system_from_atoms(model.species, atoms, q)
    graph = build_graph(system.positions, system.cell, system.pbc, model.config.cutoff)
    name = "interactions.0.filter.0.weight"

    def force_loss(w):
        params = {**model.params, name: w}
        forces = -grad(schnet.total_energy, 3)(params, model.config, system.species, system.positions, system.q, graph)
        return np.sum(forces**2)

    w = model.params[name]
    analytic = grad(force_loss)(w)
    direction = np.random.default_rng(0).standard_normal(w.shape)
    fd = (force_loss(w + H * direction) - force_loss(w - H * direction)) / (2 * H)
    assert np.sum(analytic * direction) == pytest.approx(fd, rel=1e-6)
