"""From an ASE ``Atoms`` (and existences) to the checked arrays the model works on.

Bad input is answered here, once, with a ``ValueError`` that names the problem, so the
numerical code never sees NaN positions, unknown elements, or a periodic direction
without a cell vector.
"""

from dataclasses import dataclass

import numpy as np

__all__ = ["System", "system_from_atoms", "check_existence"]


@dataclass(frozen=True)
class System:
    species: np.ndarray  # (N,) index into the model's species
    positions: np.ndarray  # (N, 3) Å
    q: np.ndarray  # (N,) existence in [0, 1]
    cell: np.ndarray  # (3, 3) Å
    pbc: np.ndarray  # (3,) bool


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
    n = len(atoms)
    if n == 0:
        raise ValueError("the Atoms object is empty: there is nothing to evaluate")
    positions = np.array(atoms.positions, dtype=float)
    if not np.all(np.isfinite(positions)):
        bad = np.flatnonzero(~np.all(np.isfinite(positions), axis=1))
        raise ValueError(f"positions contain NaN or inf (atom {bad[0]}: {positions[bad[0]]})")
    cell = np.array(atoms.cell[:], dtype=float)
    pbc = np.array(atoms.pbc, dtype=bool)
    if not np.all(np.isfinite(cell)):
        raise ValueError("the cell contains NaN or inf")
    periodic = cell[pbc]
    if pbc.any() and np.linalg.matrix_rank(periodic, tol=1e-8) < pbc.sum():
        axes = "".join("xyz"[k] for k in range(3) if pbc[k])
        raise ValueError(
            f"pbc is set along {axes} but the cell has no (or degenerate) vectors there: "
            "set atoms.cell, or pbc=False for a cluster"
        )
    if q is None:
        q = atoms.arrays.get("existence", np.ones(n))
    return System(
        species=species_indices(atoms.get_chemical_symbols(), species),
        positions=positions,
        q=check_existence(q, n),
        cell=cell,
        pbc=pbc,
    )
