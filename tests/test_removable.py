"""Removable template atoms: ΔG counts a removed atom at its μ, the gradients in their
existences (three ways), the existence conditions, and the optimizer finding a known best
vacancy pattern."""

import json

import autograd.numpy as anp
import numpy as np
import pytest
from ase import Atoms
from ase.constraints import FixAtoms
from ase.geometry import get_distances
from autograd import grad

import refgc
from refgc import schnet
from refgc.cli import main as cli
from refgc.grandcanonical import optimize, top_layer
from refgc.graph import build_graph
from refgc.parallel import SerialExecutor
from refgc.results import RunStore
from refgc.system import system_from_atoms
from refgc.toy import PairPotential
from conftest import random_slab
from test_gradients import fd_existence, fd_positions

A, N = 2.6, 4  # Å, a 4×4 square lattice


def lattice_gas(fixed_top=True):
    """A fixed Cu layer with a layer of Ag in its hollows (indices 16-31). Each Ag binds
    to the Cu below by b ≈ 2.845 eV and repels each of its four nearest Ag by J ≈ 0.5 eV.
    At μ_Ag = −1.845 eV a removal costs s = b + μ ≈ 2J < 4J, so the best pattern removes
    every second Ag, as a checkerboard: any fewer removals leave a bond (+J) for each
    removal saved (−s), any more cost s and break no bond."""
    sub = [(i * A, j * A, 10.0) for i in range(N) for j in range(N)]
    top = [((i + 0.5) * A, (j + 0.5) * A, 11.5) for i in range(N) for j in range(N)]
    slab = Atoms(["Cu"] * 16 + ["Ag"] * 16, positions=sub + top, cell=[N * A, N * A, 30.0], pbc=(True, True, False))
    slab.set_constraint(FixAtoms(indices=range(32 if fixed_top else 16)))
    toy = PairPotential(("Cu", "Ag", "O"), {("Cu", "Ag"): (2.0, 2.37, 0.5), ("Ag", "O"): (1.0, 2.0, 0.5)},
                        repulsion={("Ag", "Ag"): (211.0, 3.0), ("O", "O"): (5.0, 2.3)}, cutoff=4.0,
                        mu_ref={"Cu": 0.0, "Ag": 0.0, "O": 0.0})
    return slab, toy


MU_AG = -1.845


def removal_gibbs(model, slab, removed, mu):
    """ΔG of the slab without the atoms ``removed``, at its positions, by hand."""
    atoms = slab.copy()
    del atoms[removed]
    return refgc.energy(model, atoms) - refgc.energy(model, slab) + len(removed) * mu


def test_the_optimizer_finds_the_checkerboard():
    slab, toy = lattice_gas()
    checkerboard = [16 + k for k in range(16) if (k // N + k % N) % 2 == 0]
    expected = removal_gibbs(toy, slab, checkerboard, MU_AG)
    # the argument of lattice_gas, at this toy's numbers: the rows pattern and one removal are worse
    rows = [16 + k for k in range(16) if (k // N) % 2 == 0]
    assert expected < removal_gibbs(toy, slab, rows, MU_AG) - 3 and expected < removal_gibbs(toy, slab, [16], MU_AG) - 6
    result = optimize(slab, {"Ag": MU_AG}, model=toy, candidates={}, removable=list(range(16, 32)), restarts=4,
                      seed=0, executor=SerialExecutor(), progress=False)
    assert result.gibbs == pytest.approx(expected, abs=1e-6)
    assert result.best_run.removed == {"Ag": 8} and result.best_run.composition == {}
    ag = result.best[[s == "Ag" for s in result.best.get_chemical_symbols()]]
    d = get_distances(ag.positions, cell=ag.cell, pbc=ag.pbc)[1]
    assert d[np.triu_indices(8, 1)].min() > A * 1.4  # no two Ag left as nearest neighbours
    assert result.best_run.describe() == "−Ag8"


def test_gibbs_counts_a_removed_atom_at_its_mu(model):
    atoms, q, n_t = random_slab(4, n_add=3)
    removable = (n_t - 1, n_t - 3)
    q[list(removable)] = [0.3, 0.8]
    mu = {"O": -0.9, "Cu": 0.4}
    mu_abs = {s: model.mu_ref[s] + mu.get(s, 0.0) for s in ("Cu", "O")}
    E_slab = refgc.energy(model, atoms[:n_t])
    dG, _, _ = refgc.gibbs_free_energy(model, atoms, q, mu, n_t, removable=removable)
    symbols = atoms.get_chemical_symbols()
    expected = (refgc.energy(model, atoms, q) - E_slab - sum(q[i] * mu_abs[symbols[i]] for i in range(n_t, len(atoms)))
                + sum((1 - q[i]) * mu_abs[symbols[i]] for i in removable))
    assert dG == pytest.approx(expected, rel=1e-12)
    # at q = 0 a removed atom is exactly the structure without it, and its μ is back in the reservoir
    q[list(removable)] = 0.0
    q[n_t:] = 1.0
    dG0 = refgc.gibbs_free_energy(model, atoms, q, mu, n_t, removable=removable)[0]
    without = atoms.copy()
    del without[list(removable)]
    added = sum(mu_abs[s] for s in symbols[n_t:])
    by_hand = (refgc.energy(model, without) - E_slab - added + sum(mu_abs[symbols[i]] for i in removable))
    assert dG0 == pytest.approx(by_hand, rel=1e-12)
    with pytest.raises(ValueError, match="unless they are removable; atom 2 has q = 0.5"):
        q[2] = 0.5
        refgc.gibbs_free_energy(model, atoms, q, mu, n_t, removable=removable)


def test_gradients_in_removable_existences_three_ways(model):
    """∂ΔG/∂q_i = ∂E/∂q_i − μ_i of removable template atoms: the hand-written backward
    (refgc.gibbs_free_energy), autograd through the SchNet, and finite differences."""
    atoms, q, n_t = random_slab(6, n_add=2, size=(2, 1, 3))
    removable = (n_t - 2, n_t - 1)
    q[list(removable)] = [0.0, 0.6]  # the lower bound, where a removal ends, and inside
    mu = {"O": -0.4}
    mu_abs = np.array([model.mu_ref[s] + mu.get(s, 0.0) for s in atoms.get_chemical_symbols()])
    _, dG_dx, dG_dq = refgc.gibbs_free_energy(model, atoms, q, mu, n_t, template_energy=0.0, removable=removable)
    G = lambda a, qq: refgc.gibbs_free_energy(model, a, qq, mu, n_t, template_energy=0.0,  # noqa: E731
                                              removable=removable)[0]
    variable = list(removable) + list(range(n_t, len(atoms)))

    def set_variable(values):
        qq = q.copy()
        qq[variable] = values
        return qq

    fd_q = fd_existence(lambda v: G(atoms, set_variable(v)), q[variable])
    np.testing.assert_allclose(dG_dq[variable], fd_q, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(dG_dx, fd_positions(lambda a: G(a, q), atoms), rtol=1e-6, atol=1e-7)
    system = system_from_atoms(model.species, atoms, q)
    graph = build_graph(system.positions, system.cell, system.pbc, model.config.cutoff)
    rem = np.zeros(len(atoms), bool)
    rem[list(removable)] = True
    cand = np.arange(len(atoms)) >= n_t

    def by_autograd(qq):
        E = schnet.total_energy(model.params, model.config, system.species, system.positions, qq, graph)
        return E - anp.sum(qq * cand * mu_abs) + anp.sum((1.0 - qq) * rem * mu_abs)

    np.testing.assert_allclose(dG_dq[variable], grad(by_autograd)(q)[variable], rtol=1e-10, atol=1e-12)


def test_a_removed_template_atom_feels_no_force_and_changes_nothing(model):
    atoms, q, n_t = random_slab(8, n_add=2)
    q[n_t - 1] = 0.0
    E, dE_dx, _ = refgc.energy_and_gradients(model, atoms, q)
    without = atoms.copy()
    del without[n_t - 1]
    assert E == pytest.approx(refgc.energy(model, without, np.delete(q, n_t - 1)), rel=1e-12)
    np.testing.assert_array_equal(dE_dx[n_t - 1], 0.0)


def test_removing_and_adding_together_and_the_files(tmp_path):
    """The top layer removable and O added: every answer's ΔG is a recomputation from its
    structure (E − E_slab − Σ added μ + Σ removed μ), and the folder keeps what was removed."""
    slab, toy = lattice_gas(fixed_top=False)
    assert top_layer(slab) == list(range(16, 32))
    mu = {"Ag": MU_AG, "O": -0.5}
    result = optimize(slab, mu, model=toy, candidates={"O": 3}, removable="top", restarts=2, seed=1,
                      executor=SerialExecutor(), progress=False, output=tmp_path / "out", hops=1)
    template = result.template.structure
    E_slab = refgc.energy(toy, template)
    for run in result.runs:
        symbols = run.structure.get_chemical_symbols()
        n_ag = symbols.count("Ag")
        assert 16 - n_ag == run.removed["Ag"] and symbols.count("O") == run.composition["O"]
        dG = refgc.energy(toy, run.structure) - E_slab - run.composition["O"] * mu["O"] + run.removed["Ag"] * MU_AG
        assert run.gibbs == pytest.approx(dG, abs=1e-8)
        assert not result.flags(run) or all("detached" not in f for f in result.flags(run))
    stored = RunStore(tmp_path / "out")
    assert len(stored.template()) == 32
    again = {r.key: r for r in stored.load().values()}
    assert all(again[r.key].removed == r.removed for r in result.runs)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert [r.get("removed") for r in summary["runs"]] == [r.removed for r in result.runs]


@pytest.mark.parametrize("removable, message", [
    ("bottom", "removable must be 'top' or template atom indices"),
    ([40], r"removable atoms must be template atom indices in \[0, 32\)"),
    ([17, 17], "an index is given twice"),
    ([2.5], "template atom indices"),
])
def test_bad_removable(removable, message):
    slab, toy = lattice_gas()
    with pytest.raises(ValueError, match=message):
        optimize(slab, {"Ag": MU_AG}, model=toy, candidates={}, removable=removable, progress=False)


def test_nothing_to_do_is_an_error():
    slab, toy = lattice_gas()
    with pytest.raises(ValueError, match="zero candidates"):
        optimize(slab, {"Ag": MU_AG}, model=toy, candidates={}, progress=False)


def test_cli_refuses_a_bad_removable(capsys):
    assert cli(["optimize", "--mu", "O=-1", "--removable", "top", "x", "--quiet"]) == 2
    assert "--removable takes 'top' or atom indices, got top x" in capsys.readouterr().err


def vacancy_row():
    """A fixed square Cu layer under a row of three removable Ag (2.6 Å apart, periodic)
    and a fixed Au above the middle one. Each Ag binds by 0.5 eV (its self energy at μ_Ag
    = 0) and nothing else; the Au pushes the middle Ag by 0.3 eV (a hard wall). With the
    first Ag removed, removing the middle one too costs 0.5 − 0.3 eV, so the polish keeps
    it; moving the vacancy there gains 0.3 eV, which only the ``shift`` hop does."""
    a = 2.6
    cu = [[i * a, j * a, 10.0] for i in range(3) for j in range(3)]
    ag = [[(i + 0.5) * a, a / 2, 12.0] for i in range(3)]
    slab = Atoms(["Cu"] * 9 + ["Ag"] * 3 + ["Au"], positions=cu + ag + [[1.5 * a, a / 2, 14.5]],
                 cell=[3 * a, 3 * a, 20.0], pbc=(True, True, False))
    slab.set_constraint(FixAtoms(indices=range(13)))
    wall = 0.3 / (1 - 2.5 / 4.0) ** 3  # 0.3 eV at the 2.5 Å between the Au and the middle Ag
    toy = PairPotential(("Cu", "Ag", "Au"), {}, repulsion={("Ag", "Au"): (wall, 4.0)}, self_energy={"Ag": -0.5},
                        cutoff=4.5, mu_ref={"Cu": 0.0, "Ag": 0.0, "Au": 0.0})
    problem = refgc.search.Problem(model=toy, template=slab, mu={"Cu": 0.0, "Ag": 0.0, "Au": 0.0}, candidates=(),
                                   region=(12.5, 14.0), template_energy=refgc.energy(toy, slab),
                                   fixed=np.ones(13, bool), removable=(9, 10, 11))
    return slab, problem


def test_shift_moves_each_vacancy_to_a_neighbouring_removable_site():
    from refgc.search import existence, perturb

    slab, p = vacancy_row()
    atoms = slab.copy()
    atoms.set_array("existence", np.r_[np.ones(9), 0.0, 1.0, 1.0, 1.0])  # the first Ag removed
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(20):
        moved, kind = perturb(p, atoms, rng)
        assert kind == "shift"  # nothing added, nothing to add: the only move
        q = existence(moved)
        assert np.array_equal(moved.positions, atoms.positions) and np.all(q[:9] == 1) and q[12] == 1
        assert q[9] == 1 and q[9:12].sum() == 2  # the vacancy moved, and there is still one
        seen.add(int(np.flatnonzero(q[9:12] == 0)[0]) + 9)
    assert seen == {10, 11}  # both neighbours in the periodic row
    assert perturb(p, slab.copy(), rng)[1] is None  # no vacancy: nothing to shift
    empty = slab.copy()
    empty.set_array("existence", np.r_[np.ones(9), 0.0, 0.0, 0.0, 1.0])
    assert perturb(p, empty, rng)[1] is None  # no removable atom left to take a vacancy


def test_hops_shift_a_vacancy_where_the_polish_cannot():
    from dataclasses import replace

    from refgc.search import existence, gibbs_of, hop, polish

    slab, p = vacancy_row()
    atoms = slab.copy()
    atoms.set_array("existence", np.r_[np.ones(9), 0.0, 1.0, 1.0, 1.0])
    E = refgc.energy(p.model, atoms[existence(atoms) > 0])
    start = gibbs_of(p, atoms, E)
    assert start == pytest.approx(removal_gibbs(p.model, slab, [9], 0.0), abs=1e-9)
    polished, E_p, _ = polish(p, atoms.copy(), E)
    assert gibbs_of(p, polished, E_p) == pytest.approx(start, abs=1e-9)  # removing the middle Ag too costs 0.2 eV
    hopped, E_h, n = hop(replace(p, hops=6), polished, E_p, np.random.default_rng(0))
    expected = removal_gibbs(p.model, slab, [10], 0.0)
    assert expected == pytest.approx(start - 0.3, abs=0.01)
    assert gibbs_of(p, hopped, E_h) == pytest.approx(expected, abs=1e-9) and n > 0
    assert np.array_equal(existence(hopped)[9:12], [1.0, 0.0, 1.0])
