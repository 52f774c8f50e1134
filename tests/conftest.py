"""Shared test helpers: small random models, random Cu–O systems (slabs and clusters),
labelled frames, comparisons and finite differences."""

import numpy as np
import pytest
from ase import Atoms
from ase.build import fcc110
from ase.constraints import FixAtoms

import refgc

SMALL = dict(species=("Cu", "O"), cutoff=4.0, n_features=16, n_filters=12, n_rbf=8, n_interactions=2)
REL = 1e-10  # relative tolerance between two float64 computations of the same quantity: rounding only


def perturbed_model(config, seed=0):
    """A model whose every parameter (biases, offsets and scales too) is random, so that
    no term of the energy vanishes by accident; references set for ΔG tests."""
    model = refgc.init_model(config, seed=seed)
    rng = np.random.default_rng(seed + 1000)
    for name, value in model.params.items():
        model.params[name] = value + 0.3 * rng.standard_normal(value.shape)
    model.params["offset"] = np.array([-3.7, -1.9])[: len(config.species)]
    model.mu_ref.update({"Cu": -3.6, "O": -4.9})
    return model


@pytest.fixture(scope="session")
def model():
    return perturbed_model(refgc.ModelConfig(**SMALL), seed=0)


@pytest.fixture(scope="session")
def model_default_size():
    """The size the issues quote: 64 features, 3 blocks, 20 RBF, r_c = 6 Å."""
    return perturbed_model(refgc.ModelConfig(species=("Cu", "O")), seed=3)


def place(rng, n, lo, hi, existing=np.zeros((0, 3)), min_dist=1.2, cell2d=None):
    """n random points in the box [lo, hi) no closer than ``min_dist`` to each other and
    to ``existing`` (in-plane periodic images are ignored: tests only need sane starts)."""
    points = []
    for _ in range(200 * n):
        if len(points) == n:
            break
        p = rng.uniform(lo, hi) if cell2d is None else np.r_[rng.uniform(0, 1, 2) @ cell2d, rng.uniform(lo[2], hi[2])]
        others = np.vstack([existing] + ([np.array(points)] if points else []))
        if len(others) == 0 or np.min(np.linalg.norm(others - p, axis=1)) >= min_dist:
            points.append(p)
    return np.array(points).reshape(-1, 3)


def random_slab(seed, n_add=6, size=(2, 2, 3)):
    """A rattled Cu(110) slab (pbc x, y) with ``n_add`` random Cu/O adatoms of random q."""
    rng = np.random.default_rng(seed)
    slab = fcc110("Cu", size, a=3.61, vacuum=6.0)
    slab.rattle(0.05, seed=seed)
    top = slab.positions[:, 2].max()
    pts = place(rng, n_add, np.array([0, 0, top + 0.8]), np.array([0, 0, top + 3.0]),
                existing=slab.positions, cell2d=slab.cell[:2, :2], min_dist=1.0)
    symbols = rng.choice(["Cu", "O"], size=len(pts))
    atoms = slab + Atoms(list(symbols), positions=pts)
    q = np.r_[np.ones(len(slab)), rng.uniform(0, 1, len(pts))]
    return atoms, q, len(slab)


def random_cluster(seed, n=8):
    """A non-periodic Cu–O cluster with random existences."""
    rng = np.random.default_rng(seed)
    pts = place(rng, n, np.zeros(3), np.full(3, 4.5), min_dist=1.3)
    atoms = Atoms(list(rng.choice(["Cu", "O"], size=len(pts))), positions=pts)
    return atoms, rng.uniform(0, 1, len(pts))


def random_system(seed, kind):
    if kind == "slab":
        atoms, q, _ = random_slab(seed)
        return atoms, q
    return random_cluster(seed)


def labelled(atoms, energy=None, forces=None, **info):
    """A copy of ``atoms`` with a single-point calculator: EMT's energy and forces when
    neither is given, else the given ones (energy 0, zero forces where one is missing);
    ``info`` goes into ``atoms.info``."""
    from ase.calculators.emt import EMT
    from ase.calculators.singlepoint import SinglePointCalculator

    atoms = atoms.copy()
    if energy is None and forces is None:
        atoms.calc = EMT()
        energy, forces = atoms.get_potential_energy(), atoms.get_forces()
    energy = 0.0 if energy is None else energy
    forces = np.zeros((len(atoms), 3)) if forces is None else forces
    atoms.calc = SinglePointCalculator(atoms, energy=energy, forces=forces)
    atoms.info.update(info)
    return atoms


def assert_same_energy_and_gradients(a, b, rtol=REL, atol=1e-12):
    """Two (E, ∂E/∂x, ∂E/∂q) triples agree: two computations of the same quantity."""
    assert a[0] == pytest.approx(b[0], rel=rtol, abs=atol)
    np.testing.assert_allclose(a[1], b[1], rtol=rtol, atol=atol)
    np.testing.assert_allclose(a[2], b[2], rtol=rtol, atol=atol)


def one_sided_slope(f, h):
    """f'(0) from f(0), f(h), f(2h), second-order accurate: for an existence at the end of
    its range [0, 1] (h < 0 looks back from q = 1)."""
    return (-3 * f(0.0) + 4 * f(h) - f(2 * h)) / (2 * h)


def edge_case(name, cutoff):
    """(atoms, q) of a structure at an edge of the equations: pairs at r_c ± 1e-4 Å (and a
    finite-difference step moves them across), pairs inside the prior's radius (r_CuO =
    1.19 Å, r_OO = 0.79 Å), coincident candidates, or a cell smaller than the cutoff (atoms
    meet their own images)."""
    if name == "near the cutoff":
        r = cutoff
        return Atoms("CuOCuO", positions=[[0, 0, 0], [r - 1e-4, 0, 0], [0, r + 1e-4, 0], [0.3, 0.2, r - 4e-6]]), \
            np.array([1.0, 0.7, 0.4, 0.0])
    if name == "inside the prior":
        return Atoms("CuOO", positions=[[0, 0, 0], [0.9, 0.1, 0], [1.3, 0.5, 0.2]]), np.array([1.0, 0.6, 0.3])
    if name == "coincident":
        return Atoms("CuOO", positions=[[0, 0, 0], [1.9, 0, 0], [1.9, 0, 0]]), np.array([1.0, 0.5, 0.5])
    if name == "own images":
        cell = [[2.6, 0, 0], [0.5, 2.4, 0], [0, 0.3, 2.9]]
        return Atoms("CuO", positions=[[0, 0, 0], [1.1, 0.9, 1.4]], cell=cell, pbc=True), np.array([1.0, 0.35])
    raise ValueError(name)


EDGE_CASES = ("near the cutoff", "inside the prior", "coincident", "own images")


@pytest.fixture(scope="module")
def surface():
    """The toy potential's surface: a fixed square layer of 9 Cu, 2.6 Å apart, at z = 10 Å."""
    a = 2.6
    slab = Atoms("Cu9", positions=[[i * a, j * a, 10.0] for i in range(3) for j in range(3)],
                 cell=[3 * a, 3 * a, 20.0], pbc=[True, True, False])
    slab.set_constraint(FixAtoms(indices=range(9)))
    return slab
