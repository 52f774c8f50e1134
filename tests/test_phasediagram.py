"""The phase diagram on lines whose crossings are known: the lower envelope and its
breakpoints, the bulk limit, (T, p), and the figures' artists."""

from types import SimpleNamespace

import numpy as np
import pytest
from ase.build import fcc110

from refgc import gas
from refgc.bulk import CRYSTALS, compounds, formula_units, limit
from refgc.phasediagram import PhaseDiagram, phase_diagram
from refgc.results import Run

pytest.importorskip("matplotlib")
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def run(gibbs, n_o, n_cu=0):
    slab = fcc110("Cu", (2, 1, 3), vacuum=6.0)
    return Run(restart=0, gibbs=gibbs, composition={"Cu": n_cu, "O": n_o}, structure=slab)


def diagram(lines, generated_at=-1.0, bulk_phases=None):
    """A PhaseDiagram whose structures are ``lines``: (ΔG at ``generated_at``, n_O)."""
    runs = [run(g, n) for g, n in lines]
    result = SimpleNamespace(ranked=lambda: runs, runs=runs)
    return PhaseDiagram(species="O", dmu_values=[generated_at], results=[result], area=10.0,
                        bulk_phases=bulk_phases or {})


# ΔG(Δμ) = a − n Δμ with (a, n): bare 0; n=1 with a=-1.5 crosses bare at −1.5;
# n=3 with a=-3.5 crosses n=1 at −1.0; n=2 with a=-2.4 is never lowest.
LINES = [(0.0, 0), (-1.5, 1), (-3.5, 3), (-2.4, 2)]


def as_generated(lines, at=-1.0):
    return [(a - n * at, n) for a, n in lines]


def test_envelope_breakpoints_are_the_crossings():
    pd = diagram(as_generated(LINES))
    segments = pd.envelope(-2.0, 0.0)
    assert [run.composition["O"] for _, _, (_, run) in segments] == [0, 1, 3]
    assert [x0 for x0, _, _ in segments] == pytest.approx([-2.0, -1.5, -1.0])
    assert [x1 for _, x1, _ in segments] == pytest.approx([-1.5, -1.0, 0.0])
    for x in np.linspace(-2.0, 0.0, 41):  # the envelope is the minimum of all lines everywhere
        gen, best = pd.stable(x)
        segment = next(s for s in segments if s[0] - 1e-12 <= x <= s[1] + 1e-12)
        assert pd.gibbs_at(segment[2][1], segment[2][0], x) == pytest.approx(pd.gibbs_at(best, gen, x))


def test_each_line_falls_with_slope_minus_n_o():
    pd = diagram(as_generated(LINES))
    for gen, r in pd.structures():
        assert pd.gibbs_at(r, gen, gen + 0.5) - pd.gibbs_at(r, gen, gen) == pytest.approx(-0.5 * r.composition["O"])


def test_three_lines_through_one_point_leave_no_empty_segment():
    pd = diagram(as_generated([(0.0, 0), (-1.0, 1), (-2.0, 2)]))  # all meet at Δμ = −1
    segments = pd.envelope(-2.0, 0.0)
    assert [(round(a, 9), round(b, 9), r.composition["O"]) for a, b, (_, r) in segments] == [(-2.0, -1.0, 0), (-1.0, 0.0, 2)]


def test_bulk_limit_and_metastable_region():
    cu2o = {"formula": {"Cu": 2, "O": 1}, "formation_energy": -1.28}
    cuo = {"formula": {"Cu": 1, "O": 1}, "formation_energy": -1.22}
    assert limit({"Cu2O": cu2o, "CuO": cuo}, "O") == (pytest.approx(-1.28), "Cu2O")
    # Cu-poor conditions push the oxide up: (ΔH − 2 Δμ_Cu)/1
    assert limit({"Cu2O": cu2o}, "O", {"Cu": -0.1})[0] == pytest.approx(-1.08)
    assert limit({}, "O") == (float("inf"), None)
    pd = diagram(as_generated(LINES), bulk_phases={"Cu2O": cu2o})
    assert pd.metastable(-1.0) and not pd.metastable(-1.5)
    (gen, r), meta = pd.stable_at(600.0, 1e-20)
    assert r.composition["O"] == 0 and not meta  # very low pressure: bare, bulk Cu stable


def test_stable_at_uses_the_gas_chemical_potential():
    pd = diagram(as_generated(LINES))
    T = 600.0
    p = gas.pressure("O", T, -1.2)  # Δμ_O = −1.2: inside the n=1 range
    (gen, r), _ = pd.stable_at(T, p)
    assert r.composition["O"] == 1


def test_crystals_have_their_formulas():
    assert compounds(["Cu", "O"]) == ["Cu2O", "CuO"] and compounds(["Cu"]) == []
    assert formula_units(CRYSTALS["Cu2O"]()) == ({"Cu": 2, "O": 1}, 2)
    assert formula_units(CRYSTALS["CuO"]()) == ({"Cu": 1, "O": 1}, 4)
    for make in CRYSTALS.values():  # no two atoms on one site: shortest distance of a real bond
        atoms = make()
        d = atoms.get_all_distances(mic=True)[np.triu_indices(len(atoms), 1)]
        assert 1.8 < d.min() < 2.0


def test_figures_have_the_expected_artists():
    cu2o = {"formula": {"Cu": 2, "O": 1}, "formation_energy": -1.28}
    pd = diagram(as_generated(LINES), bulk_phases={"Cu2O": cu2o})
    fig, ax = plt.subplots()
    pd.plot(ax, temperatures=(300, 600), lo=-2.0, hi=0.0)
    texts = {t.get_text() for t in ax.texts}
    assert {pd.label(r) for _, _, (_, r) in pd.envelope(-2.0, 0.0)} <= texts  # each stable phase labelled
    bold = [line for line in ax.lines if line.get_linewidth() >= 3]
    assert len(bold) == 3  # the envelope's three segments
    assert any(p.get_label() == "bulk Cu2O stable" for p in ax.patches)  # the shaded bulk region
    assert len(ax.child_axes) >= 3 + 2  # three top views and two pressure axes
    fig2, ax2 = plt.subplots()
    pd.plot_conditions(ax2, T=(300, 1000), p=(1e-15, 1.0), n=40)
    assert ax2.collections and {t.get_text() for t in ax2.texts} <= texts | {"bare"}
    assert ax2.get_legend() is not None  # the bulk boundary crosses the window
    plt.close("all")


def test_phase_diagram_input_errors():
    slab = fcc110("Cu", (2, 1, 3), vacuum=6.0)
    with pytest.raises(ValueError, match="give T and p together"):
        phase_diagram(slab, T=(300, 600))
    with pytest.raises(ValueError, match="not both"):
        phase_diagram(slab, [-1.0], T=(300, 600), p=(1e-10, 1))
    with pytest.raises(ValueError, match="give dmu_values"):
        phase_diagram(slab)
    with pytest.raises(ValueError, match="T = 50"):
        phase_diagram(slab, T=(50, 600), p=(1e-10, 1))


def test_optimize_notes_the_stable_bulk_compounds():
    from refgc.cli import bulk_notes

    model = SimpleNamespace(bulk_phases={
        "Cu2O": {"formula": {"Cu": 2, "O": 1}, "formation_energy": -1.28, "labeller": "emt"},
        "CuO": {"formula": {"Cu": 1, "O": 1}, "formation_energy": -1.22, "labeller": "emt"}})
    assert bulk_notes(model, {"O": -1.5, "Cu": 0.0}) == []
    notes = bulk_notes(model, {"O": -1.25, "Cu": 0.0})
    assert [n["compound"] for n in notes] == ["Cu2O"] and notes[0]["margin_eV"] == pytest.approx(0.03)
    assert [n["compound"] for n in bulk_notes(model, {"O": -1.0})] == ["Cu2O", "CuO"]  # Δμ_Cu absent: 0
    assert bulk_notes(model, {"O": -1.25, "Cu": -0.1}) == []  # Cu-poor: 2(−0.1) − 1.25 < −1.28
