"""How close may two atoms be? One table of distances per element pair, and the check of a found structure.

A machine-learned potential can be wrong far from its training data, and an optimizer is
good at finding where it is wrong in the favourable direction. The cheapest checks of a
result (:func:`check`): the shortest distance of each pair of elements, against a length
shorter than any bond that pair forms in a real molecule or solid, with some slack
(:func:`short_contacts`); and added atoms that no chain of bonds connects to the slab, such
as a molecule floating above it (:func:`detached`), which the reservoir, not the surface,
should hold.

Every distance limit of refgc per element pair lives in :data:`DISTANCES`: the shortest
real bond, the ``too_short`` limit of that check, and the closest two atoms are ever
placed when new structures are made for labelling (:func:`refgc.datagen.random_insertion`).
The model's repulsive prior acts inside its own radii, r_ab = s (R_a + R_b) with ASE's
covalent radii (:class:`refgc.ModelConfig`), which the tests keep below ``too_short``.
"""

from typing import NamedTuple

import numpy as np
from ase.data import atomic_numbers, covalent_radii
from ase.neighborlist import natural_cutoffs, neighbor_list
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

__all__ = ["DISTANCES", "TOO_SHORT", "PLACEMENT", "BOND_SCALE", "TOO_SHORT_SCALE", "PLACEMENT_SCALE", "pair_value", "placement_distance",
           "too_short_distance", "short_contacts", "detached", "check"]


class PairDistances(NamedTuple):
    bond: float  # Å, the shortest bond the pair forms (a diatomic molecule's)
    too_short: float  # Å, closer than this in a found structure is unphysical
    placement: float  # Å, new structures for labelling place no two atoms closer


#: Å, for Cu and O: Cu₂ 2.22 Å, gas-phase CuO 1.72 Å, O₂ 1.21 Å. Placement keeps O atoms
#: 2.2 Å apart, so that labelled structures start as O adsorbates, not as O₂ molecules.
DISTANCES = {
    ("Cu", "Cu"): PairDistances(bond=2.22, too_short=2.0, placement=2.2),
    ("Cu", "O"): PairDistances(bond=1.72, too_short=1.6, placement=1.6),
    ("O", "O"): PairDistances(bond=1.21, too_short=1.15, placement=2.2),
}
TOO_SHORT = {pair: d.too_short for pair, d in DISTANCES.items()}
PLACEMENT = {pair: d.placement for pair, d in DISTANCES.items()}


def pair_value(table, a, b):
    """``table[(a, b)]`` or ``table[(b, a)]``; a pair the table lacks is an error that names it."""
    for key in ((a, b), (b, a)):
        if key in table:
            return table[key]
    raise ValueError(f"no distance given for the element pair {a}–{b}")


#: For a pair :data:`DISTANCES` does not give, ``placement`` is this times the sum of the
#: covalent radii: Cu–Cu's 2.2 Å and Cu–O's 1.6 Å are 0.83 and 0.81 of it. (The full sum,
#: a typical bond, jams random insertion on small cells: 4 Au and 4 Cu on a 2×2 Cu(100)
#: cell took minutes.)
PLACEMENT_SCALE = 0.85


def placement_distance(a, b):
    """Å, the closest a new atom of element ``a`` is placed to an atom of element ``b``:
    the ``placement`` column of :data:`DISTANCES` for the pairs it gives,
    :data:`PLACEMENT_SCALE` times the sum of the two covalent radii (ASE's
    ``covalent_radii``) for any other pair."""
    for key in ((a, b), (b, a)):
        if key in DISTANCES:
            return DISTANCES[key].placement
    return PLACEMENT_SCALE * float(covalent_radii[atomic_numbers[a]] + covalent_radii[atomic_numbers[b]])


#: For a pair :data:`DISTANCES` does not give, ``too_short`` is this times the sum of the
#: covalent radii: the table's pairs sit at 0.76 (Cu–Cu), 0.81 (Cu–O) and 0.87 (O–O) of it.
TOO_SHORT_SCALE = 0.75


def too_short_distance(a, b):
    """Å, closer than this a found structure's atoms of elements ``a`` and ``b`` are
    unphysical: the ``too_short`` column of :data:`DISTANCES` for the pairs it gives,
    :data:`TOO_SHORT_SCALE` times the sum of the covalent radii for any other pair."""
    for key in ((a, b), (b, a)):
        if key in DISTANCES:
            return DISTANCES[key].too_short
    return TOO_SHORT_SCALE * float(covalent_radii[atomic_numbers[a]] + covalent_radii[atomic_numbers[b]])


def short_contacts(atoms, n_template=0, limits=None):
    """{(A, B): shortest distance} for each element pair (sorted symbols) closer than
    ``limits[(A, B)]`` (default: :func:`too_short_distance`; a pair a given table lacks is
    an error) with at least one atom from index ``n_template`` on (the added atoms);
    periodic images count. Empty if the structure passes."""
    symbols = np.array(atoms.get_chemical_symbols())
    if limits is None:
        kinds = sorted(set(symbols))
        limits = {(a, b): too_short_distance(a, b) for a in kinds for b in kinds if a <= b}
    if not limits:
        return {}
    i, j, d = neighbor_list("ijd", atoms, max(limits.values()))
    found = {}
    for a, b, dist in zip(i, j, d):
        if a < n_template and b < n_template:
            continue
        pair = tuple(sorted((symbols[a], symbols[b])))
        if dist < pair_value(limits, *pair):
            found[pair] = min(float(dist), found.get(pair, np.inf))
    return found


#: Two atoms are bonded closer than BOND_SCALE times the sum of their covalent radii (ASE's
#: ``covalent_radii``): Cu–Cu 3.30 Å, Cu–O 2.48 Å, O–O 1.65 Å. Wide enough for every
#: adsorbate bond and adatom, short of second neighbours across a vacuum gap.
BOND_SCALE = 1.25


def detached(atoms, n_template, scale=BOND_SCALE):
    """Indices of the added atoms (from ``n_template`` on) that no chain of bonds connects
    to a template atom (periodic images count): a molecule or cluster floating above the
    slab. Bonded: closer than ``scale`` times the sum of covalent radii. Empty if every
    added atom is held by the slab."""
    if len(atoms) == n_template:
        return []
    i, j = neighbor_list("ij", atoms, natural_cutoffs(atoms, mult=scale))
    bonds = coo_matrix((np.ones(len(i)), (i, j)), shape=(len(atoms), len(atoms)))
    _, label = connected_components(bonds, directed=False)
    held = set(label[:n_template])
    return [int(k) for k in range(n_template, len(atoms)) if label[k] not in held]


def check(atoms, n_template, limits=None):
    """The contact check of a found structure: a list of one-line problems, empty if it
    passes. ``"O–O 0.94 Å"`` for each element pair closer than ``limits``
    (:func:`short_contacts`), ``"3 atoms detached (O₃…)"`` for added atoms the slab does
    not hold (:func:`detached`)."""
    problems = [f"{a}–{b} {d:.2f} Å" for (a, b), d in sorted(short_contacts(atoms, n_template, limits).items())]
    loose = detached(atoms, n_template)
    if loose:
        symbols = [atoms[k].symbol for k in loose]
        formula = "".join(f"{s}{symbols.count(s) if symbols.count(s) > 1 else ''}" for s in sorted(set(symbols)))
        problems.append(f"{len(loose)} atom{'s' if len(loose) > 1 else ''} detached ({formula})")
    return problems
