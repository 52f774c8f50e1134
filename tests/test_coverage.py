"""The search covers compositions: per-restart candidate mixtures and the removal polish."""

import numpy as np
import pytest
from ase import Atoms
from ase.constraints import FixAtoms

import refgc
from refgc import search as R
from refgc.grandcanonical import optimize
from refgc.parallel import SerialExecutor
from refgc.toy import PairPotential

A = 2.6  # Å, square lattice of the toy surface (the conftest fixture `surface`)


@pytest.fixture(scope="module")
def toy():
    """O binds in the hollows of a square Cu layer; Ag atoms bind each other (1 eV a bond)
    but cost 1.5 eV each: any Ag cluster costs more than the reservoir gives for it, yet a
    square of four, whose atoms each have two bonds, is a local minimum of ΔG(q) at q = 1."""
    return PairPotential(("Cu", "O", "Ag"), {("Cu", "O"): (1.0, 1.9, 0.5), ("Ag", "Ag"): (1.0, 2.6, 0.6)},
                         repulsion={("O", "O"): (5.0, 2.3), ("Ag", "O"): (5.0, 2.3)},
                         self_energy={"Ag": 1.5}, cutoff=4.0, mu_ref={"Cu": 0.0, "O": 0.0, "Ag": 0.0})


def problem(toy, surface, candidates, **kwargs):
    return R.Problem(model=toy, template=surface, mu={"Cu": 0.0, "O": -1.0, "Ag": 0.0}, candidates=candidates,
                     region=(10.3, 12.5), template_energy=refgc.energy(toy, surface), fixed=np.ones(9, bool), **kwargs)


def test_restart_candidates_cover_bare_to_full(toy, surface):
    p = problem(toy, surface, ("Ag",) * 8 + ("O",) * 8, mixtures=True)
    drawn = [R.restart_candidates(p, k) for k in range(16)]
    assert drawn[0] == p.candidates  # the first restart is the method as published
    assert drawn == [R.restart_candidates(p, k) for k in range(16)]  # a function of k only
    for s in ("Ag", "O"):
        counts = {d.count(s) for d in drawn}
        assert counts == set(range(9)), (s, sorted(counts))
    plain = problem(toy, surface, p.candidates)
    assert all(R.restart_candidates(plain, k) == p.candidates for k in range(5))


def test_polish_removes_what_costs_and_its_gibbs_is_exact(toy, surface):
    top = 10.0
    atoms = surface + Atoms("OAgAg", positions=[[A / 2, A / 2, top + 1.2], [0.5, 4.0, top + 3.0],
                                                [3.1, 4.0, top + 3.0]])
    atoms.set_constraint(FixAtoms(indices=range(9)))
    p = problem(toy, surface, ("O", "Ag", "Ag"))
    relaxed, E, _ = refgc.relax(toy, atoms)
    polished, E_p, n = R.polish(p, relaxed, E)
    assert polished.get_chemical_symbols()[9:] == ["O"]  # the Ag dimer costs 3 - 1 eV: gone; the bound O stays
    assert n > 0 and E_p == pytest.approx(refgc.energy(toy, polished), abs=1e-9)
    dG = lambda a, e: e - p.template_energy - sum(p.mu[s] for s in a.get_chemical_symbols()[9:])  # noqa: E731
    assert dG(polished, E_p) < dG(relaxed, E) - 1.0


def test_default_search_ends_without_the_species_that_only_costs(toy, surface):
    result = optimize(surface, {"O": -1.0, "Ag": 0.0}, model=toy, candidates={"O": 6, "Ag": 4}, restarts=3, seed=0,
                      executor=SerialExecutor(), progress=False, region=(10.3, 12.5))
    assert result.composition["Ag"] == 0 and result.composition["O"] >= 1
    published = optimize(surface, {"O": -1.0, "Ag": 0.0}, model=toy, candidates={"O": 6, "Ag": 4}, restarts=3,
                         seed=0, executor=SerialExecutor(), progress=False, region=(10.3, 12.5), polish=False)
    assert result.gibbs <= published.gibbs + 1e-9
    stats = result.compositions()
    assert sum(c["restarts"] for c in stats) == 3 and stats[0]["best_gibbs"] == result.gibbs


def test_mixtures_and_polish_must_be_flags(toy, surface):
    with pytest.raises(ValueError, match="mixtures must be True or False"):
        optimize(surface, {"O": -1.0}, model=toy, mixtures="yes", executor=SerialExecutor(), progress=False,
                 region=(10.3, 12.5))


def test_placement_distance_from_the_table_or_covalent_radii():
    from ase.data import atomic_numbers, covalent_radii

    from refgc.contacts import DISTANCES, placement_distance

    assert placement_distance("O", "O") == DISTANCES[("O", "O")].placement
    assert placement_distance("O", "Cu") == placement_distance("Cu", "O") == DISTANCES[("Cu", "O")].placement
    assert placement_distance("Ag", "O") == pytest.approx(0.85 * (covalent_radii[atomic_numbers["Ag"]]
                                                                  + covalent_radii[atomic_numbers["O"]]))


def _bound(toy, surface, symbols, positions):
    """A problem on the toy surface and a structure relaxed with it."""
    atoms = surface + Atoms(symbols, positions=positions)
    atoms.set_constraint(FixAtoms(indices=range(9)))
    relaxed, E, _ = refgc.relax(toy, atoms)
    return relaxed, E


def test_perturb_moves_only_added_atoms_and_respects_the_candidates(toy, surface):
    """Each move leaves the template alone; "add" only adds species that have room under
    the candidate counts, at a free site of the region; no move removes an atom."""
    from refgc.contacts import placement_distance

    p = problem(toy, surface, ("O", "O", "Ag"))
    atoms, _ = _bound(toy, surface, "OO", [[A / 2, A / 2, 11.2], [A / 2 + A, A / 2, 11.2]])
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(60):
        moved, kind = R.perturb(p, atoms, rng)
        seen.add(kind)
        assert np.array_equal(moved.positions[:9], atoms.positions[:9]) and moved.constraints == []
        added = moved.get_chemical_symbols()[9:]
        assert added.count("O") <= 2 and added.count("Ag") <= 1  # never beyond the candidates
        if kind == "add":
            assert added == ["O", "O", "Ag"]  # only Ag has room
            d = moved.get_distances(len(moved) - 1, range(len(moved) - 1), mic=True)
            limits = [placement_distance("Ag", s) for s in moved.get_chemical_symbols()[:-1]]
            assert np.all(d >= np.array(limits) - 1e-9) and p.region[0] <= moved.positions[-1, 2] <= p.region[1]
        elif kind == "move":
            changed = np.flatnonzero(np.any(moved.positions != atoms.positions, axis=1))
            assert len(changed) <= 1 and all(k >= 9 for k in changed)
        else:
            assert kind == "rattle" and len(moved) == len(atoms)
            assert np.all(np.any(moved.positions[9:] != atoms.positions[9:], axis=1))
    assert seen == {"rattle", "move", "add"}
    full, _ = _bound(toy, surface, "OOAg", [[A / 2, A / 2, 11.2], [A / 2 + A, A / 2, 11.2], [5.0, 5.0, 12.0]])
    assert {R.perturb(p, full, rng)[1] for _ in range(30)} == {"rattle", "move"}  # no room: nothing to add
    bare = surface.copy()
    assert {R.perturb(p, bare, rng)[1] for _ in range(10)} == {"add"}  # nothing to move


def test_hops_only_lower_gibbs_and_find_a_better_site(toy, surface):
    """An O on a top site (one Morse bond) is a local minimum on the toy surface; the hops
    move it to a hollow (four bonds). Their ΔG never rises, equals a recomputation, and the
    same seed gives the same structure."""
    p = problem(toy, surface, ("O",), hops=6)
    atoms, E = _bound(toy, surface, "O", [[0.0, 0.0, 11.9]])  # on top of a Cu atom
    start = R.gibbs_of(p, atoms, E)
    hopped, E_h, n = R.hop(p, atoms, E, np.random.default_rng(1))
    g = R.gibbs_of(p, hopped, E_h)
    assert n > 0 and g < start - 1.0  # a hollow has four bonds
    assert E_h == pytest.approx(refgc.energy(toy, hopped), abs=1e-9)
    again, E_a, _ = R.hop(p, atoms, E, np.random.default_rng(1))
    assert E_a == E_h and np.array_equal(again.positions, hopped.positions)
    unchanged, E_0, n_0 = R.hop(R.Problem(**{**vars(p), "hops": 0}), atoms, E, np.random.default_rng(1))
    assert n_0 == 0 and E_0 == E and unchanged is atoms


def test_the_template_is_an_answer(toy, surface, tmp_path):
    """The relaxed template (ΔG = 0, nothing added) is ranked with the restarts: when every
    restart ends above 0 it is the best answer, in best.extxyz and summary.json too."""
    import dataclasses
    import json

    from ase.io import read

    from refgc.results import GCResult

    result = optimize(surface, {"O": -1.0, "Ag": 0.0}, model=toy, candidates={"O": 6, "Ag": 4}, restarts=2, seed=0,
                      executor=SerialExecutor(), progress=False, region=(10.3, 12.5))
    template = result.template
    assert template.restart == -1 and template.gibbs == 0.0 and template.composition == {"Ag": 0, "O": 0}
    assert len(template.structure) == 9 and result.gibbs < 0 and result.best_run is result.runs[0]
    costly = [dataclasses.replace(r, gibbs=r.gibbs + 100.0) for r in result.runs]  # as if every restart cost
    worse = GCResult(runs=costly, area=result.area, mu=result.mu, template=template)
    assert worse.gibbs == 0.0 and worse.composition == {"Ag": 0, "O": 0} and worse.best is template.structure
    assert [r.restart for r in worse.distinct()] == [-1, *[r.restart for r in worse.distinct()[1:]]]
    worse.write_summary(tmp_path)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["best"] == "template" and summary["best_gibbs"] == 0.0 and len(summary["runs"]) == 2
    assert len(read(tmp_path / "best.extxyz")) == 9
    assert sum(c["restarts"] for c in worse.compositions()) == 2  # the template is not a restart
    tie = GCResult(runs=[dataclasses.replace(costly[0], gibbs=0.0)], area=1.0, mu={}, template=template)
    assert tie.best_run.restart == costly[0].restart >= 0  # on a tie, the restart that found it


def test_a_flagged_best_is_reported_as_flagged(toy, surface, capsys):
    """Results carry the contact check of each answer (summary.json and the CLI table),
    and a best answer that fails it is never printed without a warning."""
    import dataclasses

    from refgc.cli import print_ranking
    from refgc.results import GCResult

    result = optimize(surface, {"O": -1.0, "Ag": 0.0}, model=toy, candidates={"O": 6, "Ag": 4}, restarts=2, seed=0,
                      executor=SerialExecutor(), progress=False, region=(10.3, 12.5))
    assert all(result.flags(r) == [] for r in result.ranked())
    print_ranking(result, result.mu)
    assert "warning" not in capsys.readouterr().out
    ring = surface + Atoms("O3", positions=[[1.0, 1.0, 16.0], [2.175, 1.0, 16.0], [1.5875, 2.02, 16.0]])
    floating = dataclasses.replace(result.runs[0], restart=7, structure=ring, gibbs=result.gibbs - 1.0,
                                   composition={"Ag": 0, "O": 3})
    flagged = GCResult(runs=[floating, *result.runs], area=result.area, mu=result.mu, template=result.template)
    summary = flagged.summary()
    assert summary["best_flags"] == ["3 atoms detached (O3)"] and summary["runs"][0]["flags"] == summary["best_flags"]
    assert summary["runs"][1]["flags"] == []
    print_ranking(flagged, flagged.mu)
    out = capsys.readouterr().out
    assert "3 atoms detached (O3)" in out.splitlines()[3]  # rank 1 carries its flag
    assert "warning: the best answer fails the contact check (3 atoms detached (O3))" in out
    assert "the best answer that passes is rank 2" in out
