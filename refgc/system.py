"""From an ASE ``Atoms`` (and existences) to the checked arrays the model works on.

Bad input is answered here, once, with a ``ValueError`` that names the problem, so the
numerical code never sees NaN positions, unknown elements, or a periodic direction
without a cell vector. The checks every public entry point shares live here too: the
model, the atoms, a real number, a count.
"""

import numbers
from dataclasses import dataclass

import numpy as np
from ase import Atoms

__all__ = ["System", "system_from_atoms", "check_existence", "check_atoms", "check_model", "check_real",
           "check_count"]


@dataclass(frozen=True)
class System:
    species: np.ndarray  # (N,) index into the model's species
    positions: np.ndarray  # (N, 3) Å
    q: np.ndarray  # (N,) existence in [0, 1]
    cell: np.ndarray  # (3, 3) Å
    pbc: np.ndarray  # (3,) bool


def check_model(model):
    """``model`` has what every entry point uses: ``species``, ``mu_ref``, ``cutoff``, ``evaluate``."""
    if not (all(hasattr(model, a) for a in ("species", "mu_ref", "cutoff")) and callable(getattr(model, "evaluate", None))):
        raise ValueError("model must be a refgc Model (or an object with species, mu_ref, cutoff and evaluate), "
                         f"got {type(model).__name__}")
    return model


def check_real(value, what, positive=False):
    """``value`` as a float: a real, finite number (not a string, not a bool), > 0 if ``positive``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{what} must be a real number, got {value!r}")
    if positive and not (np.isfinite(value) and value > 0):
        raise ValueError(f"{what} must be positive and finite, got {value}")
    if not np.isfinite(value):
        raise ValueError(f"{what} is not finite: {value}")
    return float(value)


def check_count(value, what, minimum=0):
    """``value`` as an int >= ``minimum``: a Python or NumPy integer, not a float like 2.0 or 2.7."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < minimum:
        kind = {0: "a non-negative integer", 1: "a positive integer"}.get(minimum, f"an integer >= {minimum}")
        raise ValueError(f"{what} must be {kind}, got {value!r}")
    return int(value)


def check_atoms(atoms, what="atoms"):
    """``atoms`` is a non-empty ``ase.Atoms`` with finite positions and cell, and a cell
    vector along every periodic direction."""
    if not isinstance(atoms, Atoms):
        raise ValueError(f"{what} must be an ase.Atoms, got {type(atoms).__name__}")
    if len(atoms) == 0:
        raise ValueError(f"{what} is an empty Atoms object: there is nothing to evaluate")
    positions = atoms.positions
    if not np.all(np.isfinite(positions)):
        bad = np.flatnonzero(~np.all(np.isfinite(positions), axis=1))
        raise ValueError(f"{what}: positions contain NaN or inf (atom {bad[0]}: {positions[bad[0]]})")
    cell, pbc = atoms.cell[:], atoms.pbc
    if not np.all(np.isfinite(cell)):
        raise ValueError(f"{what}: the cell contains NaN or inf")
    if pbc.any() and np.linalg.matrix_rank(cell[pbc], tol=1e-8) < pbc.sum():
        axes = "".join("xyz"[k] for k in range(3) if pbc[k])
        raise ValueError(
            f"{what}: pbc is set along {axes} but the cell has no (or degenerate) vectors there: "
            "set atoms.cell, or pbc=False for a cluster"
        )
    return atoms


def check_existence(q, n_atoms):
    """``q`` as a float array of length ``n_atoms`` with every value in [0, 1]."""
    try:
        q = np.asarray(q, dtype=float)
    except (TypeError, ValueError) as err:
        raise ValueError(f"existence q could not be read as numbers: {err}") from None
    if q.shape != (n_atoms,):
        raise ValueError(f"existence q has shape {q.shape}, expected ({n_atoms},): one value per atom")
    bad = np.flatnonzero(~((q >= 0.0) & (q <= 1.0)))  # catches NaN too
    if bad.size:
        raise ValueError(
            f"existence q must lie in [0, 1]; atom {bad[0]} has q = {q[bad[0]]}"
            + (f" ({bad.size} atoms out of range)" if bad.size > 1 else "")
        )
    return q


def species_indices(symbols, species):
    """Each symbol's index in ``species``; an element the model does not know is an error."""
    lookup = {s: k for k, s in enumerate(species)}
    unknown = sorted(set(symbols) - set(lookup))
    if unknown:
        raise ValueError(
            f"unknown species {', '.join(unknown)}: the model knows only {', '.join(species)}"
        )
    return np.array([lookup[s] for s in symbols], dtype=np.intp)


def system_from_atoms(species, atoms, q=None):
    """Check ``atoms`` against the model's ``species`` and return a :class:`System`.

    ``q=None`` reads ``atoms.arrays["existence"]`` when present, else every atom exists.
    """
    check_atoms(atoms)
    n = len(atoms)
    if q is None:
        q = atoms.arrays.get("existence", np.ones(n))
    return System(
        species=species_indices(atoms.get_chemical_symbols(), species),
        positions=np.array(atoms.positions, dtype=float),
        q=check_existence(q, n),
        cell=np.array(atoms.cell[:], dtype=float),
        pbc=np.array(atoms.pbc, dtype=bool),
    )
