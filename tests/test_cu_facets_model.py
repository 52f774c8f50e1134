"""The shipped models on the three facets: the default model and the 0.4 release's
``cu-facets`` (kept so that its results can be rechecked) load by name, keep the held-out bar
on Cu(110), and know Cu(100) and Cu(111) to within 7 meV/atom.

tests/data/cu100_validation.extxyz.xz and cu111_validation.extxyz.xz hold every fourth
frame of data/facets/cu100_test.extxyz.xz and cu111_test.extxyz.xz (SevenNet-0 labels,
never trained on), so CI needs no labeller.
"""

from pathlib import Path

import pytest

import refgc
from refgc.data import read_frames
from refgc.modelfile import SHIPPED, shipped_models
from refgc.training import metrics

DATA = Path(__file__).parent / "data"
ENERGY_BAR, FORCE_BAR = 0.005, 0.10  # the default model's held-out bar on Cu(110), eV/atom and eV/Å
FACET_ENERGY_BAR = 0.007  # eV/atom on the other facets' held-out frames (default: 6.0 and 6.2 on all of them)


@pytest.fixture(scope="module", params=["default", "cu-facets"])
def model(request):
    return refgc.load_model(request.param)


def test_shipped_models_load_by_name():
    assert {"default", "cu-facets"} <= set(shipped_models())
    model = refgc.load_model("cu-facets")
    assert model.provenance == refgc.load_model(SHIPPED / "cu-facets.npz").provenance
    assert refgc.load_model("default").provenance == refgc.load_model().provenance
    assert model.species == ("Cu", "O")
    assert model.mu_ref == pytest.approx(refgc.load_model().mu_ref)


def test_a_file_wins_over_a_shipped_name_and_an_unknown_name_is_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"no model file 'cu-face'.*shipped: .*cu-facets"):
        refgc.load_model("cu-face")
    Path("cu-facets").write_text("not a model")
    with pytest.raises(ValueError, match="cu-facets: not a readable refgc model file"):
        refgc.load_model("cu-facets")


def test_keeps_the_held_out_bar_on_cu110(model):
    scores = metrics(model, read_frames(DATA / "default_validation.extxyz.xz"))
    assert scores["energy_mae_per_atom"] <= ENERGY_BAR, f"{1e3 * scores['energy_mae_per_atom']:.2f} meV/atom"
    assert scores["force_mae"] <= FORCE_BAR


@pytest.mark.parametrize("facet", ["cu100", "cu111"])
def test_knows_the_other_facets(model, facet):
    ours = metrics(model, read_frames(DATA / f"{facet}_validation.extxyz.xz"))
    assert ours["energy_mae_per_atom"] <= FACET_ENERGY_BAR, f"{1e3 * ours['energy_mae_per_atom']:.2f} meV/atom"
    assert ours["force_mae"] <= FORCE_BAR
