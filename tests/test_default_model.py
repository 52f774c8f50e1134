"""The shipped default model: it loads, says where it came from, and meets the accuracy bar.

tests/data/default_validation.extxyz.xz holds 48 SevenNet-0-labelled frames (every fourth
frame of data/default/test.extxyz.xz, the held-out set never trained on), so CI needs
neither torch nor a labeller.
"""

from pathlib import Path

import numpy as np
import pytest

import refgc
from refgc.surface import cu110_c6x2_template
from refgc.data import read_frames
from refgc.training import metrics

VALIDATION = Path(__file__).parent / "data" / "default_validation.extxyz.xz"
ENERGY_BAR = 0.005  # eV/atom, issue 3
FORCE_BAR = 0.10  # eV/Å


@pytest.fixture(scope="module")
def model():
    return refgc.load_model()


@pytest.fixture(scope="module")
def scores(model):
    return metrics(model, read_frames(VALIDATION))


def test_default_model_loads_with_provenance(model):
    assert model.species == ("Cu", "O")
    assert set(model.mu_ref) == {"Cu", "O"}
    prov = model.provenance
    assert "SevenNet-0" in prov["references"]["labeller"]
    assert prov["references"]["mu_ref"] == pytest.approx(model.mu_ref)
    assert prov["n_frames"] > 1000
    assert {"energy_mae_per_atom", "force_mae", "n_frames"} <= set(prov["test"])
    assert "date" in prov


def test_validation_frames_reproduce_the_recorded_held_out_accuracy(model, scores):
    """The shipped file is the model whose held-out numbers docs/model.md and the metadata report:
    a quarter of the held-out frames gives the same MAEs within sampling noise."""
    recorded = model.provenance["test"]
    assert scores["n_frames"] == 48
    assert scores["energy_mae_per_atom"] == pytest.approx(recorded["energy_mae_per_atom"], rel=0.35)
    assert scores["force_mae"] == pytest.approx(recorded["force_mae"], rel=0.35)


def test_default_model_meets_the_accuracy_bar(model, scores):
    """The bar holds on the validation frames, whatever the model file says about itself."""
    assert scores["energy_mae_per_atom"] <= ENERGY_BAR, f"{1000 * scores['energy_mae_per_atom']:.2f} meV/atom"
    assert scores["force_mae"] <= FORCE_BAR, f"{scores['force_mae']:.4f} eV/Å"
    assert model.provenance.get("accuracy_bar_met", True), "the model meets the bar but its metadata says it does not"


def test_default_model_template_is_near_its_labeller(model):
    """The relaxed template's energy per atom is within 30 meV/atom of SevenNet-0's."""
    slab = cu110_c6x2_template()
    e_model = refgc.energy(model, slab)
    e_ref = model.provenance["references"]["E_template_relaxed"]
    assert abs(e_model - e_ref) / len(slab) < 0.030
    assert np.isfinite(e_model)


def test_main_job_command_runs_on_the_default_template(tmp_path, capsys):
    """`refgc optimize --mu O=-1.0 --mu Cu=0` (the main job), here 2 restarts in this
    process; the best structure's ΔG is recomputed independently from the written files."""
    import json

    from ase.io import read

    from refgc.cli import main
    from refgc.search import relax

    out = tmp_path / "out"
    assert main(["optimize", "--mu", "O=-1.0", "--mu", "Cu=0", "--restarts", "2", "--seed", "0",
                 "--out", str(out), "--serial", "--quiet"]) == 0
    assert "ΔG (eV)" in capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    best = read(out / "best.extxyz")
    slab = cu110_c6x2_template()
    assert best.get_chemical_symbols()[: len(slab)] == slab.get_chemical_symbols()
    model = refgc.load_model()
    added = best[len(slab):].get_chemical_symbols()
    assert summary["runs"][0]["composition"] == {s: added.count(s) for s in ("Cu", "O")}
    _, E_slab, _ = relax(model, slab)  # the template relaxed as optimize relaxes it
    dG, _, _ = refgc.gibbs_free_energy(model, best, None, summary["mu"], len(slab), template_energy=E_slab)
    assert dG == pytest.approx(summary["best_gibbs"], abs=1e-6)


def test_the_shipped_provenance_is_clean():
    """No machine's path in the shipped model's metadata, and its top record is the training
    that made its parameters (not a re-save), with its loss history."""
    import json

    model = refgc.load_model()
    text = json.dumps(model.provenance)
    assert '"/' not in text, "an absolute path in the shipped model's provenance"
    assert model.provenance["training"]["epochs"] > 0 and model.provenance["training"]["loss_history"]
