"""One backward pass for every array namespace, batches, and restarts in lockstep.

* The namespace-generic code under ``array-api-strict`` (which refuses anything outside
  the array API standard) equals the NumPy path to 1e-12, on the random systems and edges
  of test_backward.py; with the finite-difference tests of the NumPy path (test_gradients.py)
  and autograd (test_backward.py), each gradient is checked three ways on every namespace.
* The NumPy path computes what refgc 0.4.0 computed before the namespaces came in, to
  1e-12 (``tests/data/backward_v040.npz``, written by that version; see :func:`reference`).
* A batch of structures equals the structures alone; restarts in lockstep equal restarts
  alone, bit for bit on NumPy.
* CuPy, when installed with a GPU, equals NumPy; bad backends are one clear error.
"""

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import refgc
from refgc.graph import build_graph
from refgc.parallel import SerialExecutor
from refgc.system import system_from_atoms
from conftest import EDGE_CASES, SMALL, edge_case, perturbed_model, random_system

xps = pytest.importorskip("array_api_strict", reason="array-api-strict checks the namespace-generic code (pip install '.[test]')")

MODEL = perturbed_model(refgc.ModelConfig(**SMALL), seed=4)
REFERENCE = Path(__file__).parent / "data" / "backward_v040.npz"
SHIPPED_V040 = Path(__file__).parent / "data" / "default_model_v040.npz"  # the default model of 0.4.0


def arrays(model, atoms, q, skin=0.0):
    s = system_from_atoms(model.species, atoms, q)
    return s.species, s.positions, s.q, build_graph(s.positions, s.cell, s.pbc, model.cutoff + skin)


def assert_close(a, b, tol=1e-12):
    """(E, ∂E/∂x, ∂E/∂q) triples equal to ``tol`` (absolute, and relative to the largest entry)."""
    scale = max(1.0, abs(a[0]), *(np.abs(x).max(initial=0.0) for x in a[1:]))
    assert abs(a[0] - b[0]) <= tol * scale
    for x, y in zip(a[1:], b[1:]):
        assert np.abs(x - y).max(initial=0.0) <= tol * scale


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), kind=st.sampled_from(["slab", "cluster"]), edges=st.booleans(),
       skin=st.sampled_from([0.0, 0.5]))
def test_strict_namespace_equals_numpy(seed, kind, edges, skin):
    atoms, q = random_system(seed, kind)
    if edges:  # existences exactly at the ends of their range
        q[::3], q[1::3] = 0.0, 1.0
    args = arrays(MODEL, atoms, q, skin)  # with a skin, the pairs beyond r_c stay in on the device
    assert_close(MODEL.evaluate(*args), MODEL.evaluate(*args, backend=xps))
    assert MODEL.evaluate(*args, gradients=False, backend=xps) == pytest.approx(
        MODEL.evaluate(*args, gradients=False), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("name", EDGE_CASES)
def test_strict_namespace_equals_numpy_at_the_edges(name):
    args = arrays(MODEL, *edge_case(name, MODEL.config.cutoff))
    assert_close(MODEL.evaluate(*args), MODEL.evaluate(*args, backend=xps))


def test_strict_namespace_in_float32():
    args = arrays(MODEL, *random_system(5, "slab"))
    assert_close(MODEL.evaluate(*args, dtype="float32"), MODEL.evaluate(*args, dtype="float32", backend=xps), 1e-5)


def test_strict_gradients_against_finite_differences():
    """The third way, on the strict namespace itself: central differences of its energy."""
    atoms, q = random_system(7, "cluster")
    species, x, q, g = arrays(MODEL, atoms, q, skin=0.5)  # a skin: the graph stays valid under the steps
    E, dx, dq = MODEL.evaluate(species, x, q, g, backend=xps)
    e = lambda xx, qq: MODEL.evaluate(species, xx, qq, g, gradients=False, backend=xps)  # noqa: E731
    h = 1e-5
    for a, k in [(0, 0), (3, 2)]:
        step = np.zeros_like(x)
        step[a, k] = h
        assert dx[a, k] == pytest.approx((e(x + step, q) - e(x - step, q)) / (2 * h), rel=1e-6, abs=1e-8)
    a = int(np.flatnonzero((q > 0.1) & (q < 0.9))[0])
    step = np.zeros_like(q)
    step[a] = h
    assert dq[a] == pytest.approx((e(x, q + step) - e(x, q - step)) / (2 * h), rel=1e-6, abs=1e-8)


def reference_cases():
    """The systems of the stored reference: random slabs and clusters (q at 0 and 1 among
    them), the edges, and the default model shipped with 0.4.0 (kept in ``tests/data``, so the
    reference holds when the default changes) on a Cu(110) slab with fractional O and Cu."""
    from ase import Atoms
    from ase.build import fcc110

    cases = []
    for seed in range(6):
        atoms, q = random_system(seed, ["slab", "cluster"][seed % 2])
        q[::4] = 0.0
        q[1::4] = 1.0
        cases.append((f"random{seed}", MODEL, atoms, q))
    cases += [(name, MODEL, *edge_case(name, MODEL.config.cutoff)) for name in EDGE_CASES]
    slab = fcc110("Cu", (2, 3, 4), a=3.61, vacuum=8.0)
    slab += Atoms("O3Cu", positions=slab.positions[-4:] + [0.3, 0.2, 1.6])
    cases.append(("default model", refgc.load_model(SHIPPED_V040), slab, np.r_[np.ones(len(slab) - 4), 0.0, 0.4, 1.0, 0.7]))
    return cases


def reference():
    """{name: [E, ∂E/∂x, ∂E/∂q] flat} of every case with this refgc. ``python
    tests/test_backends.py OUT.npz`` with ``PYTHONPATH`` at refgc 0.4.0 (commit 9b4761a)
    wrote ``tests/data/backward_v040.npz``."""
    out = {}
    for name, model, atoms, q in reference_cases():
        E, dx, dq = model.evaluate(*arrays(model, atoms, q, skin=0.5))
        out[name] = np.r_[E, dx.ravel(), dq]
    return out


def test_numpy_path_unchanged_since_v040():
    stored = np.load(REFERENCE)
    now = reference()
    assert sorted(stored) == sorted(now)
    for name in stored:
        scale = max(1.0, np.abs(stored[name]).max())
        assert np.abs(now[name] - stored[name]).max() <= 1e-12 * scale, name


def test_a_batch_equals_the_structures_alone():
    systems = [random_system(seed, kind) for seed, kind in [(1, "slab"), (2, "cluster"), (3, "slab")]]
    systems.append(edge_case("own images", MODEL.config.cutoff))
    requests = [arrays(MODEL, atoms, q, skin=0.5) for atoms, q in systems]
    from refgc.batch import evaluate_batch

    for backend in ("numpy", xps):
        batch = evaluate_batch(MODEL, requests, backend=backend)
        for request, answer in zip(requests, batch):
            assert_close(MODEL.evaluate(*request), answer)
    E, dx, dq = refgc.energy_and_gradients_batch(MODEL, [a for a, _ in systems], [q for _, q in systems])
    for k, (atoms, q) in enumerate(systems):
        assert_close(refgc.energy_and_gradients(MODEL, atoms, q), (E[k], dx[k], dq[k]))


def small_search(surface, **options):
    options = {"model": MODEL, "candidates": {"O": 3, "Cu": 2}, "restarts": 3, "seed": 1, "hops": 1,
               "progress": False, "region": (11.0, 13.0), **options}
    return refgc.optimize(surface, {"O": -1.0}, **options)


def test_lockstep_restarts_equal_restarts_alone(surface):
    """On NumPy each step's requests are answered one by one: every restart's trajectory,
    evaluations and ΔG are those of the restart alone, bit for bit."""
    alone = small_search(surface, executor=SerialExecutor())
    together = small_search(surface, lockstep=True)
    for a, b in zip(sorted(alone.runs, key=lambda r: r.restart), sorted(together.runs, key=lambda r: r.restart)):
        assert (a.n_evaluations, a.gibbs, a.composition) == (b.n_evaluations, b.gibbs, b.composition)
        np.testing.assert_array_equal(a.structure.positions, b.structure.positions)
        for (xa, qa), (xb, qb) in zip(a.trajectory, b.trajectory):
            np.testing.assert_array_equal(xa, xb)
            np.testing.assert_array_equal(qa, qb)


def test_batched_lockstep_is_reproducible(surface):
    """One batched call per step: whatever the threads' timing, a step holds the next
    request of every live restart, so two runs are the same."""
    one, two = (small_search(surface, lockstep="batched") for _ in range(2))
    assert [(r.restart, r.gibbs, r.n_evaluations) for r in one.runs] == [(r.restart, r.gibbs, r.n_evaluations) for r in two.runs]


def test_lockstep_steps_gather_every_restart():
    from refgc.batch import Lockstep

    lock = Lockstep(MODEL, batched=True)
    requests = [arrays(MODEL, *random_system(seed, "slab")) for seed in range(3)]
    pool = lock.executor(len(requests))
    answers = [f.result() for f in [pool.submit(lock.evaluate, *r) for r in requests]]
    pool.shutdown()
    assert lock.n_steps == 1
    for request, answer in zip(requests, answers):
        assert_close(MODEL.evaluate(*request), answer)


def test_bad_backends_are_one_clear_error():
    atoms, q = random_system(0, "slab")
    with pytest.raises(ValueError, match="backend must be one of 'numpy', 'cupy'"):
        refgc.energy(MODEL, atoms, q, backend="gpu")
    with pytest.raises(ValueError, match="autograd reference path runs on NumPy only"):
        MODEL.evaluate(*arrays(MODEL, atoms, q), method="autograd", backend=xps)
    from refgc.toy import PairPotential

    toy = PairPotential(("Cu", "O"), {("Cu", "O"): (1.0, 1.9, 0.5)}, cutoff=4.0)
    with pytest.raises(ValueError, match="needs a refgc Model"):
        refgc.energy(toy, atoms, q, backend=xps)


def test_cupy_missing_or_without_gpu_says_so(capsys):
    try:
        import cupy  # noqa: F401

        pytest.skip("CuPy is installed: the error for a missing CuPy cannot show here")
    except ImportError:
        pass
    with pytest.raises(ValueError, match="backend='cupy' needs CuPy"):
        refgc.Calculator(MODEL, backend="cupy")
    from refgc.cli import main

    assert main(["optimize", "--mu", "O=-1", "--backend", "cupy", "--restarts", "1", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "needs CuPy" in err


def test_calculator_and_insertion_map_take_a_backend():
    atoms, q = random_system(2, "slab")
    atoms.set_array("existence", q)
    atoms.calc = refgc.Calculator(MODEL, backend=xps)
    np.testing.assert_allclose(atoms.get_forces(), -refgc.energy_and_gradients(MODEL, atoms)[1], atol=1e-12)
    slab = atoms[:12]
    a = refgc.insertion_map(MODEL, slab, "O", {"O": -1.0}, spacing=1.5)
    b = refgc.insertion_map(MODEL, slab, "O", {"O": -1.0}, spacing=1.5, backend=xps)
    np.testing.assert_allclose(a.values, b.values, atol=1e-12, rtol=1e-12)


def test_cupy_equals_numpy():
    cupy = pytest.importorskip("cupy", reason="CuPy is not installed (pip install '.[gpu]')")
    try:
        if cupy.cuda.runtime.getDeviceCount() == 0:
            pytest.skip("CuPy finds no GPU")
    except Exception as err:  # noqa: BLE001
        pytest.skip(f"CuPy finds no usable GPU: {err}")
    for seed, kind in [(0, "slab"), (1, "cluster")]:
        args = arrays(MODEL, *random_system(seed, kind), skin=0.5)
        assert_close(MODEL.evaluate(*args), MODEL.evaluate(*args, backend="cupy"))
        assert_close(MODEL.evaluate(*args, dtype="float32"), MODEL.evaluate(*args, dtype="float32", backend="cupy"), 1e-5)


if __name__ == "__main__":
    np.savez(sys.argv[1], **reference())
