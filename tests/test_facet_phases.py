"""The O/Cu(100) reference phases on the (2√2×2√2)R45° cell: compositions, coverages, sane
geometry, and the benchmark that ranks them with a labeller (EMT here, in seconds)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ase.neighborlist import neighbor_list

from refgc.surface import cu100_o_phases, cu100_r45_template, cu100_slab, surface_area

ROOT = Path(__file__).parent.parent
A = 3.612
S = A / np.sqrt(2)  # Cu(100) nearest-neighbour spacing

#: name: (O coverage in ML, template Cu removed)
PHASES = {"clean": (0.0, 0), "p(2x2)-O": (0.25, 0), "c(2x2)-O": (0.5, 0), "missing-row": (0.5, 2)}


def top_layer(atoms, template):
    z = atoms.positions[:, 2]
    return (np.abs(z - template.positions[:, 2].max()) < 0.3) & (np.array(atoms.get_chemical_symbols()) == "Cu")


def test_template_cell():
    template = cu100_r45_template(a=A)
    assert len(template) == 32 and surface_area(template) == pytest.approx(4 * A**2)  # 8 s² = 4 a²
    assert np.bincount(template.get_tags()).tolist() == [0, 8, 8, 8, 8]
    assert template.constraints[0].get_indices().tolist() == list(range(16))  # the bottom two layers, sorted first
    _, _, d = neighbor_list("ijd", template, 3.0)
    assert d.min() == pytest.approx(S)
    assert len(cu100_slab((2, 2))) == 16 and cu100_slab((2, 2)).constraints[0].get_indices().tolist() == list(range(8))
    with pytest.raises(ValueError, match="expected a .* template"):
        cu100_o_phases(cu100_slab((2, 2)))


@pytest.mark.parametrize("name", PHASES)
def test_phase(name):
    template = cu100_r45_template(a=A)
    atoms = cu100_o_phases(template)[name]
    coverage, removed = PHASES[name]
    n_present = len(template) - removed
    symbols = atoms.get_chemical_symbols()
    assert atoms.info == {"name": name, "removed": removed}
    assert symbols[:n_present] == ["Cu"] * n_present and symbols[n_present:] == ["O"] * round(8 * coverage)
    assert top_layer(atoms, template).sum() == 8 - removed
    kept = [k for k, p in enumerate(template.positions) if np.isclose(atoms.positions, p).all(1).any()]
    np.testing.assert_allclose(atoms.positions[:n_present], template.positions[kept])  # the template less the removed
    height = atoms.positions[n_present:, 2] - template.positions[:, 2].max()
    np.testing.assert_allclose(height, 0.8)
    _, _, d = neighbor_list("ijd", atoms, 3.0)
    assert d.min() > 1.7
    assert atoms.constraints[0].get_indices().tolist() == template.constraints[0].get_indices().tolist()
    assert template.constraints and len(template) == 32  # the template is left as it was


def test_missing_row_chains():
    """Every O sits between two top-layer Cu of its ⟨100⟩ row (a Cu–O–Cu chain), next to the
    row that is gone; the removed Cu are one such row."""
    template = cu100_r45_template(a=A)
    atoms = cu100_o_phases(template)["missing-row"]
    top = np.flatnonzero(top_layer(atoms, template))
    oxygen = np.flatnonzero(np.array(atoms.get_chemical_symbols()) == "O")
    assert (len(top), len(oxygen)) == (6, 4)
    i, j, D = neighbor_list("ijD", atoms, 2.1)
    for o in oxygen:
        lateral = D[(i == o) & np.isin(j, top)][:, :2]  # (3, 2): two of its row, one of the next row
        assert len(lateral) == 3
        along = lateral[np.isclose(lateral[:, 0], lateral[:, 1])]  # along the row, (1, 1)
        assert len(along) == 2 and np.allclose(along.sum(0), 0.0)  # on opposite sides: Cu–O–Cu
    gone = [p for p in template.positions if not np.isclose(atoms.positions, p).all(1).any()]
    step = np.linalg.solve(template.cell[:2, :2].T, (gone[1] - gone[0])[:2])  # in cell coordinates
    assert np.allclose((step + 1e-9) % 1.0, [0.5, 0.0], atol=1e-6)  # b1/2 = (1, 1) s: the next atom of a row


def test_benchmark_runs_with_emt(tmp_path):
    """``benchmarks/facet_phases.py`` end to end with EMT (about 6 s), resumed from its JSON
    with nothing to redo; its ΔG is E − E_template − n_O μ_O + n_removed μ_Cu."""
    out = tmp_path / "phases.json"
    command = [sys.executable, str(ROOT / "benchmarks" / "facet_phases.py"), "--labeller", "emt", "--fmax", "0.2",
               "--out", str(out)]
    first = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True).stdout
    assert "missing-row" in first and "lowest phase for Δμ_O" in first
    again = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True).stdout
    assert "steps)" in first and "steps)" not in again  # nothing relaxed the second time
    (state,) = json.loads(out.read_text()).values()
    assert list(state["phases"]) == list(PHASES)
    mu = state["references"]
    for name, p in state["phases"].items():
        expected = p["energy"] - state["template"]["energy"] - p["n_O"] * mu["O"] + p["removed"] * mu["Cu"]
        assert p["gibbs_0"] == pytest.approx(expected, abs=1e-9)
        assert (p["n_O"] / 8, p["removed"]) == PHASES[name]


def test_benchmark_cu111_with_emt(tmp_path):
    """``benchmarks/facet_phases.py --facet 111``: the (3×3) Cu(111) phases, ranked with
    ΔG = E − E_template − n_O μ_O, and the envelope printed."""
    out = tmp_path / "phases.json"
    command = [sys.executable, str(ROOT / "benchmarks" / "facet_phases.py"), "--facet", "111", "--labeller", "emt",
               "--fmax", "0.2", "--out", str(out)]
    printed = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True).stdout
    assert "(3×3) Cu(111) cell 50.84 Å²" in printed and "lowest phase for Δμ_O" in printed
    (state,) = json.loads(out.read_text()).values()
    assert state["facet"] == "111"
    assert list(state["phases"]) == ["clean", "p(3x3)-O", "p(3x3)-O-hcp", "(sqrt3xsqrt3)R30-O"]
    mu = state["references"]
    for p in state["phases"].values():
        assert p["removed"] == 0
        assert p["gibbs_0"] == pytest.approx(p["energy"] - state["template"]["energy"] - p["n_O"] * mu["O"], abs=1e-9)


def test_benchmark_on_one_more_layer(tmp_path):
    """``--layers 5``: the phases on a 5-layer slab, and the extra layer's ΔG against the
    4-layer template, E₅ − E₄ − 8 μ_Cu, recomputed here with EMT."""
    from refgc.labeller import labeller, relax_with
    from refgc.surface import cu100_r45_template

    out = tmp_path / "phases.json"
    command = [sys.executable, str(ROOT / "benchmarks" / "facet_phases.py"), "--labeller", "emt", "--fmax", "0.2",
               "--layers", "5", "--out", str(out)]
    printed = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True).stdout
    (state,) = json.loads(out.read_text()).values()
    assert state["layers"] == 5 and state["template"]["n_Cu"] == 40 and state["template_4"]["n_Cu"] == 32
    _, e4, _ = relax_with(labeller("emt")(), cu100_r45_template(), fmax=0.2)
    assert state["template_4"]["energy"] == pytest.approx(e4, abs=1e-9)
    dg = state["template"]["energy"] - e4 - 8 * state["references"]["Cu"]
    assert f"the 8 Cu of the extra layers against the 4-layer template: ΔG = {dg:+.3f} eV" in printed
    assert abs(dg) < 1.0  # a whole layer of bulk-like Cu costs little
    bad = subprocess.run(command[:-4] + ["--layers", "2", "--out", str(out)], capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "--layers must be at least 3" in bad.stderr
