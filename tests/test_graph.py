"""The neighbour graph: complete, a superset with a skin, rebuilt only when needed."""

import autograd.numpy as anp
import numpy as np
import pytest
from ase.build import bulk
from autograd import grad

import refgc
from refgc.graph import NeighborList, build_graph
from refgc.scatter import Segments, gather, scatter_add
from conftest import random_slab, random_system


def brute_force_pairs(atoms, radius, n_images=3):
    """Every (i, j, S) with |x_j - x_i + S·cell| < radius by enumerating image shifts."""
    rng = [range(-n_images, n_images + 1) if p else [0] for p in atoms.pbc]
    pairs = set()
    for S in np.array(np.meshgrid(*rng, indexing="ij")).reshape(3, -1).T:
        r = atoms.positions[None, :] - atoms.positions[:, None] + S @ atoms.cell[:]
        for i, j in zip(*np.nonzero(np.linalg.norm(r, axis=2) < radius)):
            if i != j or S.any():
                pairs.add((i, j, tuple(S)))
    return pairs


@pytest.mark.parametrize("kind", ["slab", "small bulk"])
def test_full_list_with_images_matches_brute_force(kind):
    if kind == "slab":
        atoms, _, _ = random_slab(2)
    else:
        atoms = bulk("Cu", "fcc", a=3.61, orthorhombic=True)
        atoms.rattle(0.1, seed=0)
    g = build_graph(atoms.positions, atoms.cell[:], atoms.pbc, 5.0)
    shifts = np.rint(np.linalg.solve(atoms.cell[:].T, (g.offsets).T).T).astype(int) if atoms.pbc.all() else None
    if shifts is None:  # slab: the cell has a z vector, so solve works there too
        shifts = np.rint(g.offsets @ np.linalg.inv(atoms.cell[:])).astype(int)
    assert set(zip(g.i, g.j, map(tuple, shifts))) == brute_force_pairs(atoms, 5.0)
    d = np.linalg.norm(g.vectors(atoms.positions), axis=1)
    assert np.all(d < 5.0)


def test_skin_avoids_rebuilds_and_changes_nothing(model):
    atoms, q, _ = random_slab(1)
    nl = NeighborList(model.config.cutoff, skin=0.6)
    rng = np.random.default_rng(0)
    for step in range(6):
        moved = atoms.copy()
        moved.positions += rng.uniform(-0.1, 0.1, moved.positions.shape)  # < skin/2 per atom
        E_skin = refgc.energy(model, moved, q, neighbors=nl)
        assert E_skin == pytest.approx(refgc.energy(model, moved, q), rel=1e-12)
    assert nl.n_builds == 1
    far = atoms.copy()
    far.positions[3] += [0.0, 0.0, 0.4]  # more than skin/2: must rebuild
    refgc.energy(model, far, q, neighbors=nl)
    assert nl.n_builds == 2
    far.cell[0, 0] += 0.01  # a new cell: must rebuild
    refgc.energy(model, far, q, neighbors=nl)
    assert nl.n_builds == 3


def test_neighbor_list_shorter_than_the_model_cutoff_is_refused(model):
    atoms, q, _ = random_slab(1)
    with pytest.raises(ValueError, match="cutoff"):
        refgc.energy(model, atoms, q, neighbors=NeighborList(model.config.cutoff - 1))


def test_scatter_and_gather_are_adjoint_and_differentiable():
    rng = np.random.default_rng(0)
    seg = Segments(rng.integers(0, 5, 40), 5)
    pair_values, atom_values = rng.standard_normal((40, 3)), rng.standard_normal((5, 3))
    expected = np.zeros((5, 3))
    np.add.at(expected, seg.idx, pair_values)
    np.testing.assert_allclose(scatter_add(pair_values, seg), expected, atol=1e-14)
    # <scatter(p), a> = <p, gather(a)>
    assert np.sum(scatter_add(pair_values, seg) * atom_values) == pytest.approx(np.sum(pair_values * gather(atom_values, seg)))
    # gradients through both, and a gradient of a gradient
    f = lambda a: np.sum(scatter_add(gather(a, seg) ** 2, seg) ** 2)  # noqa: E731
    g = grad(f)(atom_values)
    h = 1e-6
    e = np.zeros_like(atom_values)
    e[2, 1] = 1
    assert g[2, 1] == pytest.approx((f(atom_values + h * e) - f(atom_values - h * e)) / (2 * h), rel=1e-6)
    F = lambda a: np.sum(grad(f)(a) ** 2)  # noqa: E731  (~3e6: a larger step keeps rounding small)
    h = 1e-4
    fd = (F(atom_values + h * e) - F(atom_values - h * e)) / (2 * h)
    gg = grad(F)(atom_values)
    assert gg[2, 1] == pytest.approx(fd, rel=1e-5)


def test_half_layout_messages_equal_the_full_list():
    """With the half layout each unordered pair's filter carries a message both ways: the
    same messages as one filter per ordered pair, and the same gradients."""
    from refgc.graph import Graph
    from refgc.schnet import messages

    atoms, _ = random_system(2, "slab")
    g = build_graph(atoms.positions, atoms.cell[:], atoms.pbc, 4.0)
    full = Graph.from_pairs(g.i, g.j, g.offsets, len(atoms))
    rng = np.random.default_rng(1)
    W, v = rng.standard_normal((g.n_half, 5)), rng.standard_normal((len(atoms), 5))
    np.testing.assert_allclose(messages(W, v, g), messages(np.concatenate([W, W]), v, full), rtol=1e-13, atol=1e-13)
    weights = rng.standard_normal((len(atoms), 5))
    half_grad = grad(lambda w: np.sum(weights * messages(w, v, g) ** 2))(W)
    full_grad = grad(lambda w: np.sum(weights * messages(anp.concatenate([w, w]), v, full) ** 2))(W)
    np.testing.assert_allclose(half_grad, full_grad, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", ["slab", "small bulk"])
def test_second_half_of_the_pairs_reverses_the_first(kind):
    """The backward pass computes filters for the first n_half pairs only: pair n_half + p
    must be pair p reversed (same distance, opposite vector)."""
    if kind == "slab":
        atoms, _, _ = random_slab(3)
    else:
        atoms = bulk("Cu", "fcc", a=3.61)  # one atom: every pair is a self-image
    g = build_graph(atoms.positions, atoms.cell[:], atoms.pbc, 5.0)
    H = g.n_half
    assert 2 * H == g.n_pairs and H > 0
    np.testing.assert_array_equal(g.i[H:], g.j[:H])
    np.testing.assert_array_equal(g.j[H:], g.i[:H])
    r = g.vectors(atoms.positions)
    np.testing.assert_allclose(r[H:], -r[:H], atol=1e-12)


def test_within_keeps_the_pairs_inside_the_cutoff_in_the_half_layout():
    """A Verlet list cut back to r_c: the pairs of a list built at r_c, each with its reverse."""
    from refgc.schnet import pair_distances

    atoms, _ = random_system(4, "slab")
    wide = build_graph(atoms.positions, atoms.cell[:], atoms.pbc, 4.5)
    exact = build_graph(atoms.positions, atoms.cell[:], atoms.pbc, 4.0)
    cut, d = wide.within(pair_distances(atoms.positions, wide), 4.0)
    assert exact.n_pairs < wide.n_pairs and cut.n_pairs == exact.n_pairs and cut.n_half == exact.n_half
    key = lambda g: sorted(zip(g.i.tolist(), g.j.tolist(), np.round(g.offsets, 9).tolist()))  # noqa: E731
    assert key(cut) == key(exact)
    np.testing.assert_array_equal(cut.i[cut.n_half:], cut.j[: cut.n_half])
    np.testing.assert_array_equal(d, pair_distances(atoms.positions, cut))
    assert wide.within(pair_distances(atoms.positions, wide), 10.0)[0] is wide


def test_importing_refgc_leaves_torch_alone():
    """vesin tries torch at import; refgc keeps it out (1.2 s and another allocator), and a
    later `import torch` still works."""
    import subprocess
    import sys

    code = ("import importlib.util, sys, refgc; assert 'torch' not in sys.modules, 'torch imported'; "
            "importlib.util.find_spec('torch') is None or __import__('torch')")
    subprocess.run([sys.executable, "-c", code], check=True)
