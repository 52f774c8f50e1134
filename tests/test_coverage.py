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
