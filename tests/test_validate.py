"""refgc validate: the labeller's check of what the optimizer found (EMT as the labeller)."""

import json
import shutil

import numpy as np
import pytest

import refgc
from refgc.cli import main
from refgc.labeller import labeller, references
from refgc.surface import cu110_slab
from refgc.validate import validate


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    """A small refgc optimize result: the default model on the Cu(110) 2×2 cell, 3 restarts."""
    out = tmp_path_factory.mktemp("validate") / "result"
    refgc.optimize(cu110_slab((2, 2)), {"O": -1.5, "Cu": 0.0}, restarts=3, seed=0, hops=0, progress=False,
                   executor=refgc.parallel.SerialExecutor(), output=out)
    return out


def fresh(result, tmp_path):
    copy = tmp_path / "result"
    shutil.copytree(result, copy)
    (copy / "validation.json").unlink(missing_ok=True)
    return copy


def by_hand(run, state, dmu={"O": -1.5, "Cu": 0.0}):
    """EMT's ΔG of a restart's structure at the model's geometry, from the references and
    template energy the validation stored: E − E_slab − Σ_added (μ_ref + Δμ)."""
    from ase.calculators.emt import EMT

    atoms = run.structure.copy()
    atoms.calc = EMT()
    added = atoms.get_chemical_symbols()[len(atoms) - sum(run.composition.values()):]
    return atoms.get_potential_energy() - state["template_energy"] - sum(state["references"][s] + dmu[s] for s in added)


def test_references_are_the_labellers_own():
    """½ E(O₂) of the relaxed dimer and E/atom of relaxed bulk Cu, by EMT itself."""
    from ase import Atoms
    from ase.build import bulk
    from ase.calculators.emt import EMT
    from ase.optimize import BFGS

    mu = references(EMT(), ["Cu", "O"])
    dimer = Atoms("O2", positions=[[0, 0, 0], [0, 0, 1.3]], cell=[12] * 3)
    dimer.calc = EMT()
    BFGS(dimer, logfile=None).run(fmax=0.001)
    assert mu["O"] == pytest.approx(dimer.get_potential_energy() / 2, abs=1e-4)
    energies = []
    for a in np.linspace(3.55, 3.65, 21):
        cu = bulk("Cu", a=a)
        cu.calc = EMT()
        energies.append(cu.get_potential_energy())
    assert mu["Cu"] == pytest.approx(min(energies), abs=2e-4)  # the relaxed cell is the minimum of E(a)


def test_validate_recomputes_gibbs_with_the_labeller_and_resumes(result, tmp_path):
    import flaky_labeller

    path = fresh(result, tmp_path)
    v = validate(path, "flaky_labeller:counting", progress=False)
    rows = {r["key"]: r for r in v.rows}
    assert "template" in rows and rows["template"]["model"] == 0.0
    state = json.loads((path / "validation.json").read_text())["flaky_labeller:counting"]
    for r in v.checked:  # ΔG at the model's geometry, recomputed by hand
        run = next(x for x in refgc.validate.load_result(path)[0] if x.key == r["key"])
        dG = by_hand(run, state)
        assert r["labeller_at_model"] == pytest.approx(dG, abs=1e-9)
        assert r["error_per_cell"] == pytest.approx(run.gibbs - dG, abs=1e-9)
        assert r["labeller_relaxed"] <= r["labeller_at_model"] + 1e-9  # relaxing only lowers it
    assert sorted(r["labeller_rank"] for r in v.rows) == list(range(1, len(v.rows) + 1))
    calls = flaky_labeller.CALLS["n"]
    again = validate(path, "flaky_labeller:counting", progress=False)
    assert flaky_labeller.CALLS["n"] == calls  # nothing relabelled
    assert [r["labeller_relaxed"] for r in again.rows] == [r["labeller_relaxed"] for r in v.rows]


def test_a_structure_the_labeller_fails_on_is_named_and_skipped(result, tmp_path, capsys, monkeypatch):
    import flaky_labeller

    path = fresh(result, tmp_path)
    sizes = {len(r.structure) for r in refgc.validate.load_result(path)[0]}
    assert len(sizes) >= 2, sizes  # the labeller fails on the largest; the others are validated
    monkeypatch.setattr(flaky_labeller, "FAIL_ON", {max(sizes)})
    assert main(["validate", str(path), "--labeller", "flaky_labeller:fail_on_size", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "labeller failed: RuntimeError: SCF did not converge" in out and "structure(s) the labeller failed on" in out
    assert "winner:" in out and "median" in out


@pytest.mark.parametrize("spec, message", [
    ("foo", "unknown labeller 'foo'"),
    ("emt:x", "emt takes no model name"),
    ("sevenn:", "name the model"),
    ("nosuch_module:factory", "cannot import factory from nosuch_module"),
    ("flaky_labeller:CALLS", "flaky_labeller.CALLS is not callable"),
    ("flaky_labeller:no_oxygen", "cannot compute the references of Cu, O (NotImplementedError: no parameters for O)"),
])
def test_bad_labellers_are_one_line_errors(result, tmp_path, capsys, spec, message):
    path = fresh(result, tmp_path)
    assert main(["validate", str(path), "--labeller", spec, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_a_missing_package_is_named(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "sevenn" else real(name, *a))
    with pytest.raises(ValueError, match=r"needs the sevenn package \(pip install sevenn\)"):
        labeller("sevenn:7net-0")


def test_no_results_is_one_line(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "none"), "--labeller", "emt"]) == 2
    (tmp_path / "empty").mkdir()
    assert main(["validate", str(tmp_path / "empty"), "--labeller", "emt"]) == 2
    err = capsys.readouterr().err
    assert "no results at" in err and "no refgc optimize restarts in" in err


def test_a_database_result_and_top(tmp_path):
    db = tmp_path / "result.db"
    refgc.optimize(cu110_slab((2, 2)), {"O": -1.5, "Cu": 0.0}, restarts=2, seed=1, hops=0, progress=False,
                   executor=refgc.parallel.SerialExecutor(), output=db)
    v = validate(db, "emt", top=1, progress=False)
    assert len(v.checked) == 1 and len(v.rows) == 2  # the model's best, and the template
    assert (tmp_path / "result.db.validation.json").exists()
    assert v.rows[0]["model"] == min(r["model"] for r in v.rows)
    with pytest.raises(ValueError, match="top must be a positive integer, got 0"):
        validate(db, "emt", top=0, progress=False)


def test_a_tie_within_relaxation_noise_keeps_the_models_winner():
    """The model's best counts as the labeller's best when the two relaxed ΔG differ by less than
    refgc.validate.TIE (the bare template and a restart that ended bare), and not otherwise."""
    from refgc.validate import TIE, Validation

    def rows(found_bare):
        return [dict(key="template", labeller_relaxed=0.0), dict(key="a", labeller_relaxed=found_bare),
                dict(key="b", labeller_relaxed=0.7)]

    model_best, labeller_best = Validation("emt", rows(-0.4 * TIE)).winners()
    assert labeller_best is model_best
    model_best, labeller_best = Validation("emt", rows(-2 * TIE)).winners()
    assert labeller_best["key"] == "a" and model_best["key"] == "template"


def test_flagged_restarts_are_checked_at_the_models_geometry(result, tmp_path, capsys, monkeypatch):
    """--flagged: a restart the contact check flags is computed with the labeller even when it
    is not among the --top structures, with its flags, and is not relabelled on a rerun."""
    import flaky_labeller

    path = fresh(result, tmp_path)
    runs, _ = refgc.validate.load_result(path)
    last = runs[-1]  # the model's worst: outside --top 1
    monkeypatch.setattr(refgc.validate, "check",
                        lambda atoms, n: ["2 atoms detached (O2)"] if atoms == last.structure else [])
    v = validate(path, "flaky_labeller:counting", top=1, flagged=True, progress=False)
    assert validate(path, "flaky_labeller:counting", top=1, flagged=True, progress=False).flagged == v.flagged
    assert [r["restart"] for r in v.flagged] == [last.restart] and v.flagged[0]["flags"] == ["2 atoms detached (O2)"]
    dG = by_hand(last, json.loads((path / "validation.json").read_text())["flaky_labeller:counting"])
    assert v.flagged[0]["labeller_at_model"] == pytest.approx(dG, abs=1e-9)
    assert v.flagged[0]["error_per_atom"] == pytest.approx((last.gibbs - dG) / len(last.structure), abs=1e-12)
    calls = flaky_labeller.CALLS["n"]
    assert main(["validate", str(path), "--labeller", "flaky_labeller:counting", "--top", "1", "--flagged",
                 "--quiet"]) == 0
    assert flaky_labeller.CALLS["n"] == calls  # resumed: nothing relabelled
    out = capsys.readouterr().out
    assert "1 restart(s) flagged by the contact check" in out
    assert f"restart {last.restart}" in out and "2 atoms detached (O2)" in out
    assert f"error {v.flagged[0]['error_per_cell']:.3f} eV" in out
    assert not validate(path, "flaky_labeller:counting", top=1, progress=False).flagged  # only when asked
