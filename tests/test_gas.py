"""Gas-phase Δμ(T, p): the JANAF rows, Reuter & Scheffler's table, the ideal-gas pressure
term, and the inverses p(T, Δμ) and T(p, Δμ)."""

from importlib import resources

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refgc import gas

F = 6.02214076e23 * 1.602176634e-19  # C/mol, N_A e (exact in the SI): 1 eV per molecule is F J/mol
K_B = 8.617333262e-5  # eV/K (CODATA 2018, exact)
ATM = 1.01325  # bar

#: Reuter & Scheffler, PRB 65, 035406 (2001), Table I: Δμ_O(T, p° = 1 atm) in eV.
REUTER_SCHEFFLER = {100: -0.08, 200: -0.17, 300: -0.27, 400: -0.38, 500: -0.50,
                    600: -0.61, 700: -0.73, 800: -0.85, 900: -0.98, 1000: -1.10}


def file_rows(formula):
    """The data file's columns by name, read without refgc.gas."""
    text = resources.files("refgc").joinpath("gas_data", f"{formula}.csv").read_text()
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return dict(zip(lines[0].split(","), np.array([[float(x) for x in line.split(",")] for line in lines[1:]]).T))


def dmu_from_row(T, S, H, H_0):
    """Δμ_O of one JANAF row at p°, per atom in eV; H, H_0 in kJ/mol, S in J/K/mol."""
    return 0.5 * (1e3 * (H - H_0) - T * S) / F


def test_o2_is_a_gas_and_every_file_is_a_janaf_table():
    assert "O2" in gas.gases()
    for formula in gas.gases():
        c = file_rows(formula)
        assert list(c) == ["T", "Cp", "S", "-[G-H(Tr)]/T", "H-H(Tr)"]
        assert c["T"][0] == 0 and c["S"][0] == 0 and c["H-H(Tr)"][0] < 0  # H(0 K) − H(Tr)
        above = c["T"] > 0
        # the redundant column: −[G − H(Tr)]/T = S − [H − H(Tr)]/T, to the rounding of the
        # three columns (0.0005 J/K/mol for S and G, 0.5 J/mol for H)
        T = c["T"][above]
        gef = c["S"][above] - 1e3 * c["H-H(Tr)"][above] / T
        assert np.all(np.abs(gef - c["-[G-H(Tr)]/T"][above]) <= 1e-3 + 0.5 / T)
        assert c["H-H(Tr)"][c["T"] == 298.15] == 0


def test_o2_file_matches_the_janaf_package():
    janaf = pytest.importorskip("janaf")
    lines = janaf.Table("O-029").raw.splitlines()[2:]
    table = np.array([[float(x) for x in line.split("\t")[:5]] for line in lines])
    mine = np.column_stack(list(file_rows("O2").values()))
    np.testing.assert_array_equal(mine, table[: len(mine)])
    assert mine[0, 4] == -8.683 and mine[-1, 0] >= 1500


def test_reuter_scheffler_table_I():
    T = np.array(list(REUTER_SCHEFFLER), dtype=float)
    got = gas.delta_mu("O", T, ATM)
    np.testing.assert_allclose(got, list(REUTER_SCHEFFLER.values()), atol=0.01)


def test_interpolation_passes_through_the_rows():
    table = gas.gas_table("O2")
    H, S = gas.interpolate(table)
    np.testing.assert_allclose(H(table.T), table.H, rtol=0, atol=1e-9)
    np.testing.assert_allclose(S(table.T), table.S, rtol=0, atol=1e-12)
    c = file_rows("O2")
    above = c["T"] > 0
    expected = dmu_from_row(c["T"][above], c["S"][above], c["H-H(Tr)"][above], c["H-H(Tr)"][0])
    np.testing.assert_allclose(gas.delta_mu("O", table.T, 1.0), expected, rtol=0, atol=1e-12)


def test_rows_left_out_are_recovered_to_0_03_meV():
    """Each interior row left out of the table in turn: Δμ there from its neighbours."""
    table = gas.gas_table("O2")
    worst = 0.0
    for k in range(1, len(table.T) - 1):
        keep = np.arange(len(table.T)) != k
        H, S = gas.interpolate(table._replace(T=table.T[keep], Cp=table.Cp[keep], S=table.S[keep], H=table.H[keep]))
        T = table.T[k]
        dmu = 0.5 * (H(T) - table.H_0 - T * S(T)) / F
        worst = max(worst, abs(dmu - dmu_from_row(T, table.S[k], table.H[k] / 1e3, table.H_0 / 1e3)))
    assert worst < 0.03e-3  # eV


def test_slope_in_T_is_minus_half_the_entropy():
    """∂Δμ/∂T = ½ (Cp − S − T Cp/T) = −S/2 per atom at p°: the slopes the Hermite spline takes from Cp."""
    table = gas.gas_table("O2")
    T, h = table.T[1:-1], 1e-3
    slope = (gas.delta_mu("O", T + h, 1.0) - gas.delta_mu("O", T - h, 1.0)) / (2 * h)
    np.testing.assert_allclose(slope, -0.5 * table.S[1:-1] / F, rtol=1e-5)


@pytest.mark.parametrize("T", [100.0, 298.15, 777.7, 1500.0])
def test_slope_in_ln_p_is_half_kT(T):
    p = np.logspace(-15, 3, 19)
    dmu = gas.delta_mu("O", T, p)
    np.testing.assert_allclose(np.diff(dmu) / np.diff(np.log(p)), 0.5 * K_B * T, rtol=1e-8)
    assert gas.delta_mu("O", T, 1e-15) < gas.delta_mu("O", T, 1.0) < gas.delta_mu("O", T, 1e3)


@settings(max_examples=200, deadline=None)
@given(T=st.floats(100.0, 1500.0), log10_p=st.floats(-15.0, 3.0))
def test_round_trips(T, log10_p):
    p = 10.0**log10_p
    dmu = gas.delta_mu("O", T, p)
    assert gas.pressure("O", T, dmu) == pytest.approx(p, rel=1e-9)
    assert gas.temperature("O", p, dmu) == pytest.approx(T, rel=1e-9)


def test_arrays_broadcast_and_scalars_stay_scalars():
    T, p = np.array([[150.0], [600.0], [1200.0]]), np.array([1e-12, 1e-3, 10.0])
    dmu = gas.delta_mu("O", T, p)
    assert dmu.shape == (3, 3)
    np.testing.assert_allclose(gas.pressure("O", T, dmu), np.broadcast_to(p, (3, 3)), rtol=1e-9)
    np.testing.assert_allclose(gas.temperature("O", p, dmu), np.broadcast_to(T, (3, 3)), rtol=1e-9)
    assert isinstance(gas.delta_mu("O", 300, 1), float) and isinstance(gas.temperature("O", 1, -0.5), float)


@pytest.mark.parametrize("call, words", [
    (lambda: gas.delta_mu("Cu", 300, 1), "no gas table for element 'Cu': available are O (O2)"),
    (lambda: gas.delta_mu("H", 300, 1), "no gas table for element 'H'"),
    (lambda: gas.delta_mu(None, 300, 1), "no gas table for element None"),
    (lambda: gas.gas_table("Ar"), "no gas table for 'Ar': available are O2"),
    (lambda: gas.delta_mu("O", 0, 1), "T must be positive (K), got 0"),
    (lambda: gas.delta_mu("O", [300, -5], 1), "T must be positive (K), got -5"),
    (lambda: gas.delta_mu("O", 50, 1), "T = 50 K is outside the O2 table's range 100–1500 K"),
    (lambda: gas.pressure("O", 2000, -1), "T = 2000 K is outside the O2 table's range 100–1500 K"),
    (lambda: gas.delta_mu("O", 300, 0), "p_bar must be positive (bar), got 0"),
    (lambda: gas.temperature("O", -1, -1), "p_bar must be positive (bar), got -1"),
    (lambda: gas.delta_mu("O", np.nan, 1), "T must be finite (K), got nan"),
    (lambda: gas.delta_mu("O", 300, np.inf), "p_bar must be finite (bar), got inf"),
    (lambda: gas.pressure("O", 300, np.nan), "dmu must be finite (eV), got nan"),
    (lambda: gas.delta_mu("O", "hot", 1), "T must be a number or an array of numbers (K), got 'hot'"),
    (lambda: gas.temperature("O", 1, 0.5), "Δμ_O = 0.5 eV at p = 1 bar is not reached within 100–1500 K"),
])
def test_bad_input_is_a_one_line_error(call, words):
    with pytest.raises(ValueError) as error:
        call()
    assert words in str(error.value) and "\n" not in str(error.value)


# ---- refgc optimize --T --p ------------------------------------------------------------------


@pytest.mark.parametrize("args, message", [
    (["--T", "600"], "--T needs --p"),
    (["--p", "O2=1e-9"], "--p needs --T"),
    (["--T", "600", "--p", "N2=1"], "no gas table for element 'N'"),
    (["--T", "600", "--p", "Xe2=1"], "--p Xe2: not a gas refgc knows"),
    (["--T", "600", "--p", "O2=1e-9", "--mu", "O=-1"], "give Δμ_O by --mu or by --p O2, not both"),
    (["--T", "50", "--p", "O2=1"], "outside the O2 table's range"),
    (["--T", "600", "--p", "O2=0"], "p_bar must be positive"),
    ([], "give --mu X=DMU, or --T and --p X2=BAR"),
])
def test_optimize_conditions_errors_are_one_line(args, message, tmp_path, capsys):
    from refgc.cli import main

    assert main(["optimize", *args, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and not (tmp_path / "out").exists()


def test_optimize_at_t_and_p_reports_both(tmp_path, capsys):
    import json

    import ase.io

    from refgc.cli import main
    from refgc.surface import cu110_slab

    ase.io.write(tmp_path / "slab.extxyz", cu110_slab((2, 2)))
    out = tmp_path / "out"
    assert main(["optimize", str(tmp_path / "slab.extxyz"), "--T", "600", "--p", "O2=1e-9", "--mu", "Cu=0",
                 "--restarts", "1", "--hops", "0", "--serial", "--quiet", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    expected = gas.delta_mu("O", 600, 1e-9)
    assert summary["mu"]["O"] == pytest.approx(expected, abs=1e-12) and summary["mu"]["Cu"] == 0.0
    assert summary["conditions"] == {"T_K": 600.0, "p_bar": {"O2": 1e-9}, "dmu_eV": {"O": summary["mu"]["O"]}}
    assert f"O {expected:+.3f} eV (T = 600 K, p(O2) = 1e-09 bar)" in capsys.readouterr().out
