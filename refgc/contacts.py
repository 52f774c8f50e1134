"""Is a found structure physical? Pairs of atoms closer than any bond they form.

A machine-learned potential can be wrong far from its training data, and an optimizer is
good at finding where it is wrong in the favourable direction. The cheapest check of a
result: the shortest distance of each pair of elements, against a length shorter than any
bond that pair forms in a real molecule or solid, with some slack.
"""

import numpy as onp
from ase.neighborlist import neighbor_list

__all__ = ["TOO_SHORT", "short_contacts"]

#: Å, for Cu and O: shorter than Cu₂ (2.22 Å), gas-phase CuO (1.72 Å) and O₂ (1.21 Å).
TOO_SHORT = {("Cu", "Cu"): 2.0, ("Cu", "O"): 1.6, ("O", "O"): 1.15}


def short_contacts(atoms, n_template=0, limits=TOO_SHORT):
    """{(A, B): shortest distance} for each element pair (sorted symbols) closer than
    ``limits[(A, B)]`` with at least one atom from index ``n_template`` on (the added
    atoms); periodic images count. Empty if the structure passes."""
    i, j, d = neighbor_list("ijd", atoms, max(limits.values()))
    symbols = onp.array(atoms.get_chemical_symbols())
    found = {}
    for a, b, dist in zip(i, j, d):
        if a < n_template and b < n_template:
            continue
        pair = tuple(sorted((symbols[a], symbols[b])))
        if pair not in limits:
            raise ValueError(f"short_contacts: no length for the pair {pair[0]}–{pair[1]} in limits")
        if dist < limits[pair]:
            found[pair] = min(float(dist), found.get(pair, onp.inf))
    return found
