"""The five existence conditions (docs/method.md), on random Cu–O slabs and clusters."""

import numpy as np
import pytest
from ase import Atoms
from ase.neighborlist import neighbor_list
from hypothesis import given, settings
from hypothesis import strategies as st

import refgc
from conftest import REL, one_sided_slope, random_system

systems = dict(seed=st.integers(0, 2**31 - 1), kind=st.sampled_from(["slab", "cluster"]))


def with_ghost(atoms, q, seed, symbol):
    """``atoms`` plus one atom of ``symbol`` with q = 0 at a random place near the others
    (sometimes exactly on top of an existing atom)."""
    rng = np.random.default_rng(seed)
    if rng.uniform() < 0.25:
        where = atoms.positions[rng.integers(len(atoms))]
    else:
        where = atoms.positions[rng.integers(len(atoms))] + rng.normal(0, 1.5, 3)
    return atoms + Atoms(symbol, positions=[where]), np.r_[q, 0.0]


@settings(max_examples=40, deadline=None)
@given(**systems, symbol=st.sampled_from(["Cu", "O"]))
def test_embedding_equivalence(model, seed, kind, symbol):
    """1. A q = 0 atom leaves every other atom's embedding, at every layer, unchanged."""
    atoms, q = random_system(seed, kind)
    bigger, q_big = with_ghost(atoms, q, seed, symbol)
    for h, h_big in zip(refgc.embeddings(model, atoms, q), refgc.embeddings(model, bigger, q_big)):
        np.testing.assert_allclose(h_big[:-1], h, rtol=REL, atol=REL * np.abs(h).max())


@settings(max_examples=40, deadline=None)
@given(**systems, symbol=st.sampled_from(["Cu", "O"]))
def test_readout_equivalence(model, seed, kind, symbol):
    """2. E(system + atom with q = 0) = E(system)."""
    atoms, q = random_system(seed, kind)
    bigger, q_big = with_ghost(atoms, q, seed, symbol)
    E = refgc.energy(model, atoms, q)
    assert refgc.energy(model, bigger, q_big) == pytest.approx(E, rel=REL, abs=1e-12)


def test_continuity_in_existence(model):
    """3. E(q) of one atom is continuous and differentiable from 0 to 1, and joins the
    energies without (q = 0) and with (q = 1) the atom."""
    atoms, q = random_system(7, "cluster")
    without = refgc.energy(model, atoms[:-1], q[:-1])
    qs = np.linspace(0, 1, 201)
    E = np.array([refgc.energy(model, atoms, np.r_[q[:-1], x]) for x in qs])
    assert E[0] == pytest.approx(without, rel=REL)
    assert E[-1] == pytest.approx(refgc.energy(model, atoms, np.r_[q[:-1], 1.0]), rel=REL)
    slopes = np.array([refgc.energy_and_gradients(model, atoms, np.r_[q[:-1], x])[2][-1] for x in qs])
    # continuity: steps shrink with the grid; differentiability: the trapezoid rule on
    # the analytic slope reproduces the energy differences
    assert np.max(np.abs(np.diff(E))) < 0.05 * (np.ptp(E) + 1)
    np.testing.assert_allclose(np.diff(E), 0.5 * (slopes[1:] + slopes[:-1]) * np.diff(qs), atol=1e-5)


def test_continuity_across_cutoff(model):
    """3. A pair crossing r_c changes E and its gradient continuously (the cutoff and its
    slope vanish there)."""
    rc = model.config.cutoff
    E, g = [], []
    for d in (rc - 1e-6, rc, rc + 1e-6):
        dimer = Atoms("CuO", positions=[[0, 0, 0], [d, 0, 0]])
        e, dx, _ = refgc.energy_and_gradients(model, dimer, [0.8, 0.6])
        E.append(e)
        g.append(dx[1, 0])
    assert abs(E[0] - E[2]) < 1e-9
    assert abs(g[0]) < 1e-5 and g[1] == 0.0 and g[2] == 0.0


def plain_schnet_energy(model, atoms):
    """Textbook SchNet (no existence, ln(1 + e^x) - ln 2 softplus, np.add.at aggregation,
    ASE's neighbour list, no prior): an oracle independent of refgc's code paths."""
    p, c = model.params, model.config
    species = np.array([c.species.index(s) for s in atoms.get_chemical_symbols()])
    i, j, d = neighbor_list("ijd", atoms, c.cutoff)

    def sp(x):
        return np.logaddexp(0.0, x) - np.log(2.0)

    def lin(x, name):
        return x @ p[name + ".weight"] + p[name + ".bias"]

    mu = np.linspace(0, c.cutoff, c.n_rbf)
    e = np.exp(-0.5 * ((d[:, None] - mu) / (c.cutoff / (c.n_rbf - 1))) ** 2)
    fc = 0.5 * (np.cos(np.pi * d / c.cutoff) + 1) * (d < c.cutoff)
    h = p["embedding"][species]
    for t in range(c.n_interactions):
        k = f"interactions.{t}."
        W = lin(sp(lin(e, k + "filter.0")), k + "filter.1") * fc[:, None]
        m = np.zeros((len(atoms), c.n_filters))
        np.add.at(m, i, W * (h @ p[k + "in2f.weight"])[j])
        h = h + lin(sp(lin(m, k + "f2out.0")), k + "f2out.1")
    out = lin(sp(lin(h, "readout.0")), "readout.1")[:, 0]
    return np.sum(p["scale"][species] * out + p["offset"][species])


@pytest.mark.parametrize("kind", ["slab", "cluster"])
def test_plain_schnet_at_full_existence(model, kind):
    """4. With q = 1 everywhere (and no prior) the model is plain SchNet."""
    no_prior = refgc.Model(
        refgc.ModelConfig(**{**model.config.to_dict(), "prior_strength": 0.0}), model.params
    )
    for seed in range(3):
        atoms, _ = random_system(seed, kind)
        E = refgc.energy(no_prior, atoms, np.ones(len(atoms)))
        assert E == pytest.approx(plain_schnet_energy(no_prior, atoms), rel=REL)


@settings(max_examples=30, deadline=None)
@given(**systems, symbol=st.sampled_from(["Cu", "O"]))
def test_absent_atom_feels_no_force_but_has_insertion_energy(model, seed, kind, symbol):
    """5. ∂E/∂x_j = 0 for a q = 0 atom, while ∂E/∂q_j is the one-sided slope of E(q_j)."""
    atoms, q = random_system(seed, kind)
    bigger, q_big = with_ghost(atoms, q, seed, symbol)
    _, dE_dx, dE_dq = refgc.energy_and_gradients(model, bigger, q_big)
    assert np.all(dE_dx[-1] == 0.0)
    h = 1e-6
    one_sided = one_sided_slope(lambda dq: refgc.energy(model, bigger, np.r_[q, dq]), h)
    assert dE_dq[-1] == pytest.approx(one_sided, rel=1e-6, abs=1e-7)
    assert abs(dE_dq[-1]) > 1e-3  # the insertion energy is not trivially zero
