"""The grand canonical optimizer on a toy pair potential (minima known by hand) and SchNet."""

import numpy as np
import pytest
from ase import Atoms
from ase.build import fcc110
from ase.constraints import FixAtoms

import refgc
from refgc import search as R
from refgc.grandcanonical import optimize
from refgc.parallel import SerialExecutor
from refgc.toy import PairPotential

A = 2.6  # Å, square lattice of the toy surface (the conftest fixture `surface`)


@pytest.fixture(scope="module")
def toy():
    """O binds in the hollows of a square Cu layer (4 Morse bonds), O–O hard wall at 2.3 Å."""
    return PairPotential(("Cu", "O"), {("Cu", "O"): (1.0, 1.9, 0.5)}, repulsion={("O", "O"): (5.0, 2.3)},
                         cutoff=4.0, mu_ref={"Cu": 0.0, "O": 0.0})


def run(toy, surface, dmu, **kwargs):
    kwargs = {"candidates": {"O": 10}, "restarts": 3, "seed": 0, "executor": SerialExecutor(), "progress": False,
              "region": (10.3, 12.5), **kwargs}
    return optimize(surface, {"O": dmu}, model=toy, **kwargs)


def test_very_negative_mu_leaves_the_bare_surface(toy, surface):
    result = run(toy, surface, -20.0)
    for r in result.runs:
        assert r.composition == {"O": 0} and len(r.structure) == 9
        assert r.gibbs == pytest.approx(0.0, abs=1e-9)


def test_very_positive_mu_fills_the_surface(toy, surface):
    result = run(toy, surface, +5.0)
    assert all(r.composition["O"] == 10 for r in result.runs)
    assert result.gibbs < -10 * 5.0  # each O gains at least μ


def test_found_o_atoms_sit_in_hollows(toy, surface):
    result = run(toy, surface, -1.0)
    o = result.best.positions[9:]
    assert len(o) >= 3
    frac = (o[:, :2] / A) % 1.0
    np.testing.assert_allclose(frac, 0.5, atol=0.05)  # hollow sites: (i + ½, j + ½) a
    assert result.gibbs < -3.0


def test_reported_gibbs_matches_an_independent_recomputation(toy, surface):
    result = run(toy, surface, -1.0)
    for r in result.runs:
        E = refgc.energy(toy, r.structure)
        E_slab = refgc.energy(toy, surface)  # fixed atoms only: the relaxed template is the template
        assert r.gibbs == pytest.approx(E - E_slab - r.composition["O"] * (toy.mu_ref["O"] - 1.0), abs=1e-9)
    assert result.gibbs_per_area == pytest.approx(1e3 * result.gibbs / (9 * A * A))
    assert [r.gibbs for r in result.runs] == sorted(r.gibbs for r in result.runs)


@pytest.mark.parametrize("kappa", [1.0, 10.0])
def test_existence_stays_within_bounds_at_every_evaluation(toy, surface, monkeypatch, kappa):
    seen = []
    original = R.Objective.__call__

    def spy(self, v):
        seen.append(self.split(v)[1][len(surface):].copy())
        return original(self, v)

    monkeypatch.setattr(R.Objective, "__call__", spy)
    run(toy, surface, -1.0, restarts=2, existence_scale=kappa)
    q = np.concatenate(seen)
    assert q.size > 50 and q.min() >= 0.0 and q.max() <= 1.0
    assert np.any((q > 0.01) & (q < 0.99))  # the fractional stage really is fractional


def test_same_seed_same_result(toy, surface):
    a, b = run(toy, surface, -1.0), run(toy, surface, -1.0)
    assert [r.gibbs for r in a.runs] == [r.gibbs for r in b.runs]
    np.testing.assert_array_equal(a.best.positions, b.best.positions)


def test_trajectory_records_the_fractional_stage(toy, surface):
    r = run(toy, surface, -1.0, restarts=1).runs[0]
    assert len(r.trajectory) >= 3
    x0, q0 = r.trajectory[0]
    assert x0.shape == (19, 3) and q0.shape == (19,) and np.all(q0[:9] == 1.0)
    assert len({x.tobytes() for x, _ in r.trajectory}) > len(r.trajectory) // 2  # snapshots, not one array
    assert r.symbols[:9] == ["Cu"] * 9 and len(r.symbols) == 19


def test_scaled_existence_gradient_against_finite_differences(toy, surface):
    """L-BFGS-B's variables are [x, κ q]: the gradient it gets is ∂ΔG/∂(κ q) = (∂ΔG/∂q) / κ."""
    rng = np.random.default_rng(3)
    template, E_slab, _ = refgc.relax(toy, surface)
    for kappa in (1.0, 7.0):
        problem = R.Problem(model=toy, template=template, mu={"O": -1.0}, candidates=("O",) * 4, region=(10.3, 12.5),
                            template_energy=E_slab, fixed=np.ones(9, bool), existence_scale=kappa)
        atoms, q_c = R.insert(problem, rng)
        f = R.Objective(problem, atoms.get_chemical_symbols())
        v = np.r_[atoms.positions.ravel(), kappa * q_c]
        G, g = f(v)
        assert G == pytest.approx(refgc.gibbs_free_energy(toy, atoms, np.r_[np.ones(9), q_c], {"O": -1.0}, n_template=9,
                                                          template_energy=E_slab)[0], abs=1e-10)
        h = 1e-6
        for k in [3 * 9, 3 * 12 + 2, len(v) - 4, len(v) - 1]:  # a candidate's x and z, two existences
            e = np.zeros_like(v)
            e[k] = h
            assert g[k] == pytest.approx((f(v + e)[0] - f(v - e)[0]) / (2 * h), rel=1e-6, abs=1e-8)


def test_initial_existences_come_from_the_given_range(toy, surface):
    default = run(toy, surface, -1.0, restarts=1).runs[0].trajectory[0][1][9:]
    full = run(toy, surface, -1.0, restarts=1, existence=(0.0, 1.0)).runs[0].trajectory[0][1][9:]
    assert np.all((default >= 0.5) & (default <= 1.0)) and full.min() < 0.5  # default U(½, 1)


def test_schnet_model_runs(model):
    """The optimizer takes the SchNet as it takes the toy (a random model: smoke only)."""
    slab = fcc110("Cu", (2, 1, 3), a=3.61, vacuum=6.0)
    slab.set_constraint(FixAtoms(mask=slab.positions[:, 2] < slab.positions[:, 2].min() + 0.5))
    result = optimize(slab, {"O": -0.5}, model=model, candidates={"O": 3}, restarts=1, seed=0,
                      executor=SerialExecutor(), progress=False)
    assert np.isfinite(result.gibbs) and result.best.get_chemical_symbols()[: len(slab)] == slab.get_chemical_symbols()


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(mu={"Au": 0.0}), "chemical potential given for Au"),
        (dict(candidates={"O": 0}), "zero candidates"),
        (dict(region=(9.0, 12.0)), "overlaps the slab"),
        (dict(region=(10.5, 19.0)), "no vacuum above the slab"),
        (dict(pbc=[True, False, False]), "periodic along x and y"),
        (dict(restarts=0), "restarts must be a positive integer"),
        (dict(existence=(0.6, 0.4)), "existence must be"),
        (dict(existence=(0.0, 1.5)), "existence must be"),
        (dict(existence_scale=0.0), "existence_scale must be positive"),
        (dict(existence_scale=float("nan")), "existence_scale must be positive"),
        (dict(constraint=True), "unsupported constraint FixCartesian"),
    ],
)
def test_bad_input(toy, surface, change, message):
    slab = surface.copy()
    if "pbc" in change:
        slab.pbc = change.pop("pbc")
    if change.pop("constraint", False):
        from ase.constraints import FixCartesian

        slab.set_constraint(FixCartesian(0))
    slab.cell[2, 2] = 12.0 if "region" in change and change["region"][1] > 15 else slab.cell[2, 2]
    mu = change.pop("mu", {"O": -1.0})
    kwargs = {"candidates": {"O": 3}, "restarts": 1, "executor": SerialExecutor(), "progress": False, "region": (10.3, 12.5), **change}
    with pytest.raises(ValueError, match=message):
        optimize(slab, mu, model=toy, **kwargs)


def test_parallel_restarts_equal_serial_ones_bit_for_bit(toy, surface):
    from concurrent.futures import ProcessPoolExecutor

    serial = run(toy, surface, -1.0, restarts=2)
    with ProcessPoolExecutor(2) as pool:
        parallel = run(toy, surface, -1.0, restarts=2, executor=pool)
    for a, b in zip(serial.runs, parallel.runs):
        assert a.restart == b.restart and a.gibbs == b.gibbs
        np.testing.assert_array_equal(a.structure.positions, b.structure.positions)


def _same(a, b):
    assert [(r.restart, r.gibbs, r.composition) for r in a.runs] == [(r.restart, r.gibbs, r.composition) for r in b.runs]
    np.testing.assert_array_equal(a.best.positions, b.best.positions)


def test_folder_output_resumes_to_the_same_result(toy, surface, tmp_path):
    straight = run(toy, surface, -1.0, restarts=3)
    partial = run(toy, surface, -1.0, restarts=2, output=tmp_path / "out")
    assert len(partial.runs) == 2 and len(list((tmp_path / "out").glob("restart-*.trajectory.extxyz"))) == 2
    resumed = run(toy, surface, -1.0, restarts=3, output=tmp_path / "out")
    _same(straight, resumed)
    from ase.io import read

    frames = read(tmp_path / "out" / "restart-0000.trajectory.extxyz", index=":")
    assert "existence" in frames[0].arrays and len(frames[0]) == 19
    assert (tmp_path / "out" / "summary.json").exists() and (tmp_path / "out" / "best.extxyz").exists()


def interrupted_at(restart, real):
    """``run_restart`` as if Ctrl-C were pressed when restart ``restart`` runs."""

    def run_restart(problem, k, seed):
        if k == restart:
            raise KeyboardInterrupt
        return real(problem, k, seed)

    return run_restart


def test_ctrl_c_returns_what_finished_and_a_rerun_completes(toy, surface, tmp_path, monkeypatch):
    import refgc.grandcanonical as G

    straight = run(toy, surface, -1.0, restarts=3)
    real = G.run_restart
    monkeypatch.setattr(G, "run_restart", interrupted_at(1, real))
    partial = run(toy, surface, -1.0, restarts=3, output=tmp_path / "out")
    assert [r.restart for r in partial.runs] == [0]
    monkeypatch.setattr(G, "run_restart", real)
    _same(straight, run(toy, surface, -1.0, restarts=3, output=tmp_path / "out"))


def test_a_resumed_run_writes_the_files_of_an_uninterrupted_one(toy, surface, tmp_path, monkeypatch):
    """The restart store keeps what the structures carry besides positions (tags, info):
    best.extxyz after Ctrl-C and a rerun, or a rerun that loads everything, is the same file."""
    import refgc.grandcanonical as G

    slab = surface.copy()
    slab.set_tags(1)
    slab.info["label"] = "toy surface"
    straight = run(toy, slab, -1.0, restarts=3, output=tmp_path / "straight")
    real = G.run_restart
    monkeypatch.setattr(G, "run_restart", interrupted_at(1, real))
    run(toy, slab, -1.0, restarts=3, output=tmp_path / "resumed")
    monkeypatch.setattr(G, "run_restart", real)
    resumed = run(toy, slab, -1.0, restarts=3, output=tmp_path / "resumed")  # restart 0 loaded from the store
    for a, b in zip(straight.runs, resumed.runs):
        assert sorted(a.structure.arrays) == sorted(b.structure.arrays) and a.structure.info == b.structure.info
        np.testing.assert_array_equal(a.structure.get_tags(), b.structure.get_tags())
    best = (tmp_path / "straight" / "best.extxyz").read_bytes()
    assert b"tags" in best and (tmp_path / "resumed" / "best.extxyz").read_bytes() == best
    run(toy, slab, -1.0, restarts=3, output=tmp_path / "straight")  # every restart loaded
    assert (tmp_path / "straight" / "best.extxyz").read_bytes() == best


def test_database_output(toy, surface, tmp_path):
    from ase.db import connect

    path = tmp_path / "results.db"
    first = run(toy, surface, -1.0, restarts=2, output=path)
    rows = list(connect(path).select("gibbs<0"))
    assert len(rows) == sum(r.gibbs < 0 for r in first.runs) and rows[0].dmu_O == -1.0
    assert {row.n_O for row in connect(path).select()} == {r.composition["O"] for r in first.runs}
    _same(first, run(toy, surface, -1.0, restarts=2, output=path))  # all loaded, nothing recomputed


def test_unseeded_run_resumes_with_its_own_seed(toy, surface, tmp_path):
    first = run(toy, surface, -1.0, restarts=2, seed=None, output=tmp_path / "out")
    again = run(toy, surface, -1.0, restarts=2, seed=None, output=tmp_path / "out")
    _same(first, again)


def test_command_line(model, tmp_path, capsys):
    from ase.io import write

    from refgc.cli import main

    slab = fcc110("Cu", (2, 1, 3), a=3.61, vacuum=6.0)
    slab.set_constraint(FixAtoms(mask=slab.positions[:, 2] < slab.positions[:, 2].min() + 0.5))
    slab.info.pop("adsorbate_info", None)
    write(tmp_path / "slab.extxyz", slab)
    refgc.save_model(model, tmp_path / "model.npz")
    argv = ["optimize", str(tmp_path / "slab.extxyz"), "--mu", "O=-0.5", "--candidates", "O=2", "--restarts", "2",
            "--seed", "3", "--out", str(tmp_path / "out"), "--model", str(tmp_path / "model.npz"), "--serial", "--quiet"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "ΔG (eV)" in out and "rank" in out
    assert (tmp_path / "out" / "best.extxyz").exists() and len(list((tmp_path / "out").glob("restart-*.npz"))) == 2
    assert main([*argv[:3], "O", *argv[4:]]) == 2  # a malformed --mu is a clear error
    assert "SYMBOL=VALUE" in capsys.readouterr().err
    options = ["--existence", "0.6", "0.9", "--existence-scale", "4", "--restarts", "1"]
    assert main([*(str(tmp_path / "out2") if a == str(tmp_path / "out") else a for a in argv), *options]) == 0
    with np.load(next((tmp_path / "out2").glob("restart-*.npz"))) as npz:
        q0 = npz["trajectory_existence"][0, len(slab):]
    assert np.all((q0 >= 0.6) & (q0 <= 0.9))
    assert main([*argv, "--existence-scale", "-1"]) == 2
    assert "existence_scale must be positive" in capsys.readouterr().err


def test_phase_diagram_lines_and_stability(toy, surface, tmp_path):
    from refgc.phasediagram import phase_diagram

    pd = phase_diagram(surface, [-20.0, -1.0, 1.0], model=toy, candidates={"O": 10}, restarts=2, seed=0,
                       executor=SerialExecutor(), progress=False, region=(10.3, 12.5), output=tmp_path / "pd")
    assert len(pd.results) == 3 and len(list((tmp_path / "pd").iterdir())) == 3
    for dmu, run in pd.runs():  # a line through its own point, slope −n_O
        assert pd.gibbs_at(run, dmu, dmu) == run.gibbs
        assert pd.gibbs_at(run, dmu, dmu + 1.0) == pytest.approx(run.gibbs - run.composition["O"])
    assert pd.stable(-20.0)[1].composition["O"] == 0  # bare surface at very negative Δμ
    assert pd.stable(1.0)[1].composition["O"] >= pd.stable(-1.0)[1].composition["O"] > 0  # coverage grows with Δμ
    import matplotlib

    matplotlib.use("Agg")
    pd.plot_lines()
    pd.plot_distributions()


def test_most_restarts_find_the_known_optimum(toy, surface):
    """Every hollow filled: 9 O, each with 4 Morse bonds at d = √(a²/2 + h²), h minimising
    the bond energy; O–O 2.6 Å apart, outside the wall; no other pair within the cutoff."""
    from scipy.optimize import minimize_scalar

    eps, r0, w = 1.0, 1.9, 0.5
    fc = lambda d: 0.5 * (np.cos(np.pi * d / 4.0) + 1)  # noqa: E731
    bond = lambda h: 4 * eps * ((1 - np.exp(-(np.hypot(A / np.sqrt(2), h) - r0) / w)) ** 2 - 1) * fc(np.hypot(A / np.sqrt(2), h))  # noqa: E731
    per_O = minimize_scalar(bond, bounds=(0.0, 1.5), method="bounded").fun - (-1.0)  # − μ_O, μ_O = 0 + Δμ
    best = 9 * per_O
    # the method's own stages (hops=0): hops also find O under the one-layer toy surface, lower still
    result = optimize(surface, {"O": -1.0}, model=toy, restarts=8, seed=0, executor=SerialExecutor(), hops=0,
                      progress=False, region=(10.05, 11.0), candidates={"O": 25})  # a dense start: surplus vanishes
    tol = 5e-3  # eV per cell: the relaxation stops at forces of 0.02 eV/Å
    assert len(result.best) == 18 and result.gibbs == pytest.approx(best, abs=tol)
    found = [r for r in result.runs if r.composition["O"] == 9 and abs(r.gibbs - best) < tol]
    assert len(found) >= 5  # most of the 8 restarts


def test_dask_client_as_executor(toy, surface):
    """A Dask distributed.Client (here a LocalCluster) runs the restarts unchanged."""
    distributed = pytest.importorskip("distributed")
    serial = run(toy, surface, -1.0, restarts=2)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            on_dask = run(toy, surface, -1.0, restarts=2, executor=client)
    _same(serial, on_dask)


def test_default_executor_is_a_process_pool_with_the_same_result(toy, surface):
    """executor=None: a process pool of its own (2 restarts, 2 cores), same result as serial."""
    serial = run(toy, surface, -1.0, restarts=2)
    pooled = run(toy, surface, -1.0, restarts=2, executor=None)
    _same(serial, pooled)


def _blas_threads():
    from threadpoolctl import threadpool_info

    return [pool["num_threads"] for pool in threadpool_info()]


def test_default_pool_workers_run_one_blas_thread(toy, surface, monkeypatch):
    """Without it, 2 workers × 2 BLAS threads made the main job 12x slower on a busy machine."""
    import concurrent.futures
    import os

    import refgc.parallel as G

    if (os.cpu_count() or 1) < 2:
        pytest.skip("the default executor is serial on one core")
    made = []

    class Spy(concurrent.futures.ProcessPoolExecutor):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(G, "ProcessPoolExecutor", Spy)
    run(toy, surface, -1.0, restarts=2, executor=None)
    assert len(made) == 1
    with concurrent.futures.ProcessPoolExecutor(2, initializer=G.single_threaded) as pool:
        assert all(n == 1 for n in pool.submit(_blas_threads).result())
    assert made[0]._initializer is G.single_threaded


def test_frames_for_active_learning(toy, surface, tmp_path):
    from ase.calculators.emt import EMT

    from refgc import datagen

    result = run(toy, surface, -1.0, restarts=2, output=tmp_path / "out")
    frames = datagen.frames_from_runs(result.runs, snapshots=2)
    assert len(frames) == 6 and len({f.info["frame_id"] for f in frames}) == 6
    for f in frames:  # whole atoms only, discretised like the search: template first
        assert f.get_chemical_symbols()[:9] == ["Cu"] * 9 and "existence" not in f.arrays
    finals = [f for f in frames if f.info["config_type"] == "gc_final"]
    assert sorted(len(f) for f in finals) == sorted(len(r.structure) for r in result.runs)
    out = tmp_path / "active.extxyz"
    stats = datagen.label(frames, EMT, str(out), progress=False)
    again = datagen.label(frames, EMT, str(out), progress=False)  # nothing new to label
    assert stats["frames"] == 6 and again["frames"] == 0


def test_relax_reaches_fmax_and_keeps_fixed_atoms(toy, surface):
    atoms = surface + Atoms("O", positions=[[1.0, 1.5, 11.2]])
    E0 = refgc.energy(toy, atoms)
    relaxed, E, n = refgc.relax(toy, atoms, fmax=1e-3)
    assert E < E0 and n > 1 and E == pytest.approx(refgc.energy(toy, relaxed), abs=1e-9)
    np.testing.assert_array_equal(relaxed.positions[:9], surface.positions)  # FixAtoms
    _, dE_dx, _ = refgc.energy_and_gradients(toy, relaxed)
    assert np.abs(dE_dx[9:]).max() < 1e-3
    for kwargs, message in ((dict(fmax=0.0), "fmax must be positive"), (dict(max_steps=0), "max_steps"),
                            (dict(skin=-1.0), "skin")):
        with pytest.raises(ValueError, match=message):
            refgc.relax(toy, atoms, **kwargs)


def test_compositions_count_every_restart_best_first(toy, surface, tmp_path):
    import json

    result = run(toy, surface, -1.0, restarts=3, output=tmp_path / "out")
    found = result.compositions()
    assert sum(c["restarts"] for c in found) == 3
    assert [c["best_gibbs"] for c in found] == sorted(c["best_gibbs"] for c in found)
    assert found[0]["added"] == result.composition and found[0]["best_gibbs"] == result.gibbs
    for c in found:
        ends = [r for r in result.runs if r.composition == c["added"]]
        assert len(ends) == c["restarts"] and min(r.gibbs for r in ends) == c["best_gibbs"]
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["compositions"] == found
