"""The gas reservoir: Δμ_X(T, p) of an element from a tabulated molecule, and back to p or T.

Ab initio atomistic thermodynamics (Reuter & Scheffler, Phys. Rev. B 65, 035406 (2001))
splits the chemical potential of an element X taken from a gas of X₂ molecules into the
molecule's total energy at rest and a part that depends on temperature and pressure:

    μ_X(T, p) = ½ E(X₂) + Δμ_X(T, p).

½ E(X₂) is the model's reference μ_X^ref, without zero-point energy, as in Reuter &
Scheffler. The rest is the ideal gas's free energy above 0 K, per atom, from experiment:

    Δμ_X(T, p) = ½ [H(T, p°) − H(0 K, p°) − T (S(T, p°) − S(0 K, p°))] + ½ k_B T ln(p / p°),

with S(0 K) = 0, p° = 1 bar, and in general 1/n for ½, n atoms of X per molecule. H and S
come from the NIST-JANAF rows of the molecule, one file per gas in ``gas_data/``:
``<formula>.csv`` with columns T (K), Cp, S, −[G−H(Tr)]/T (J/K/mol), H−H(Tr) (kJ/mol),
including the 0 K row, which gives H(0 K) − H(Tr). Between the rows above 0 K, H and S
are cubic Hermite polynomials in ln T with the slopes thermodynamics fixes,
dH/dln T = T Cp and dS/dln T = Cp: left out of the table one at a time, every row from
200 K to 1400 K is recovered to 0.03 meV per atom (tests/test_gas.py). Δμ is valid
within the table's range (100–1500 K for O₂).

Units: T in K, p in bar, energies in eV. Δμ falls with T wherever S(T) > k_B ln(p/p°)
(p below about 10⁹ bar), so T(p, Δμ) is found by bracketing within the table.
"""

from functools import lru_cache
from importlib import resources
from typing import NamedTuple

import numpy as np
from scipy.constants import N_A, e, physical_constants
from scipy.interpolate import CubicHermiteSpline
from scipy.optimize import brentq

__all__ = ["MOLECULES", "GasTable", "gases", "has_table", "gas_table", "interpolate", "delta_mu", "pressure", "temperature"]

K_B = physical_constants["Boltzmann constant in eV/K"][0]  # eV/K
EV_PER_J_MOL = 1 / (e * N_A)  # eV per molecule in 1 J/mol
P_STANDARD = 1.0  # bar, p° of the JANAF tables

#: element -> (gas molecule, atoms of the element in it); a molecule without a file in
#: gas_data/ is named here in advance and reported as unavailable.
MOLECULES = {"O": ("O2", 2), "H": ("H2", 2), "N": ("N2", 2)}


class GasTable(NamedTuple):
    formula: str
    T: np.ndarray  # (rows,) K, the rows above 0 K
    Cp: np.ndarray  # (rows,) J/K/mol
    S: np.ndarray  # (rows,) J/K/mol, at p°
    H: np.ndarray  # (rows,) J/mol, H(T) − H(Tr)
    H_0: float  # J/mol, H(0 K) − H(Tr)


def gases():
    """The molecules with a table, sorted: ``["O2"]``."""
    folder = resources.files("refgc").joinpath("gas_data")
    return sorted(f.name[:-4] for f in folder.iterdir() if f.name.endswith(".csv")) if folder.is_dir() else []


@lru_cache
def gas_table(formula):
    """The JANAF rows of ``formula`` (``"O2"``) from ``gas_data/<formula>.csv``."""
    if formula not in gases():
        raise ValueError(f"no gas table for {formula!r}: available are {', '.join(gases())}")
    text = resources.files("refgc").joinpath("gas_data", f"{formula}.csv").read_text()
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    col = dict(zip(lines[0].split(","), np.array([[float(x) for x in line.split(",")] for line in lines[1:]]).T))
    zero, above = col["T"] == 0, col["T"] > 0
    if zero.sum() != 1 or np.any(np.diff(col["T"][above]) <= 0):
        raise ValueError(f"the {formula} table needs one 0 K row and rows of increasing T")
    return GasTable(formula, col["T"][above], col["Cp"][above], col["S"][above], 1e3 * col["H-H(Tr)"][above],
                    1e3 * float(col["H-H(Tr)"][zero][0]))


def interpolate(table):
    """(H(T) − H(Tr) in J/mol, S(T) in J/K/mol) as functions of T in K: cubic Hermite in
    ln T through the rows, slopes dH/dln T = T Cp and dS/dln T = Cp."""
    x = np.log(table.T)
    H, S = CubicHermiteSpline(x, table.H, table.T * table.Cp), CubicHermiteSpline(x, table.S, table.Cp)
    return (lambda T: H(np.log(T))), (lambda T: S(np.log(T)))


@lru_cache
def _gibbs(formula):
    """G°(T) − H(0 K) of one molecule in eV, a function of T in K."""
    table = gas_table(formula)
    H, S = interpolate(table)
    return lambda T: (H(T) - table.H_0 - T * S(T)) * EV_PER_J_MOL


def has_table(element):
    """Whether Δμ of ``element`` can come from T and p: a gas-phase element whose molecule has a table."""
    return isinstance(element, str) and element in MOLECULES and MOLECULES[element][0] in gases()


def _molecule(element):
    if not has_table(element):
        have = [f"{x} ({m})" for x, (m, _) in MOLECULES.items() if m in gases()]
        raise ValueError(f"no gas table for element {element!r}: available are {', '.join(have)}")
    return MOLECULES[element]


def _number(value, what, unit, positive=False):
    """``value`` as a float array: finite, > 0 if ``positive``."""
    try:
        x = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a number or an array of numbers ({unit}), got {value!r}") from None
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{what} must be finite ({unit}), got {x[~np.isfinite(x)].flat[0]}")
    if positive and np.any(x <= 0):
        raise ValueError(f"{what} must be positive ({unit}), got {x[x <= 0].flat[0]}")
    return x


def _temperature(formula, value):
    T = _number(value, "T", "K", positive=True)
    lo, hi = gas_table(formula).T[[0, -1]]
    if np.any((T < lo) | (T > hi)):
        bad = T[(T < lo) | (T > hi)].flat[0]
        raise ValueError(f"T = {bad:g} K is outside the {formula} table's range {lo:g}–{hi:g} K")
    return T


def _delta_mu(formula, n, T, p):
    return (_gibbs(formula)(T) + K_B * T * np.log(p / P_STANDARD)) / n  # the module docstring's Δμ_X(T, p)


def _scalar(x):
    return float(x) if np.ndim(x) == 0 else x


def delta_mu(element, T, p_bar):
    """Δμ_X(T, p) in eV per atom of ``element`` for T in K and p in bar (broadcast)."""
    formula, n = _molecule(element)
    return _scalar(_delta_mu(formula, n, _temperature(formula, T), _number(p_bar, "p_bar", "bar", positive=True)))


def pressure(element, T, dmu):
    """p in bar at which the gas of ``element`` has Δμ = ``dmu`` (eV per atom) at T in K (broadcast)."""
    formula, n = _molecule(element)
    T, dmu = _temperature(formula, T), _number(dmu, "dmu", "eV")
    return _scalar(P_STANDARD * np.exp((n * dmu - _gibbs(formula)(T)) / (K_B * T)))  # Δμ_X(T, p) solved for p


def temperature(element, p_bar, dmu):
    """T in K at which the gas of ``element`` at p in bar has Δμ = ``dmu`` (eV per atom),
    searched within the table's range (broadcast)."""
    formula, n = _molecule(element)
    p, dmu = _number(p_bar, "p_bar", "bar", positive=True), _number(dmu, "dmu", "eV")
    lo, hi = gas_table(formula).T[[0, -1]]

    def solve(p, dmu):
        ends = _delta_mu(formula, n, np.array([lo, hi]), p)
        if not ends.min() <= dmu <= ends.max():
            raise ValueError(f"Δμ_{element} = {dmu:g} eV at p = {p:g} bar is not reached within {lo:g}–{hi:g} K, "
                             f"where it runs from {ends[0]:.3f} to {ends[1]:.3f} eV")
        return brentq(lambda T: _delta_mu(formula, n, T, p) - dmu, lo, hi, xtol=1e-12, rtol=4 * np.finfo(float).eps)

    return _scalar(np.vectorize(solve, otypes=[float])(p, dmu))
