r"""The Gibbs free energy of a template with fractional candidate atoms.

A surface (the *template*, always fully present) is in contact with reservoirs of its
elements at chemical potentials :math:`\mu_Z`. Adding candidate atoms with existences
:math:`q_i` costs their energy and gains :math:`q_i \mu_{Z_i}` from the reservoirs:

.. math::

    \Delta G(x, q) = E(x, q) - E_{slab} - \sum_{i \in \mathrm{cand}} q_i\, \mu_{Z_i},
    \qquad \mu_Z = \mu_Z^{ref} + \Delta\mu_Z .

:math:`\mu^{ref}` is stored with the model (½E(O₂) and E(bulk Cu)/atom from the labeller
it was trained on); the user chooses :math:`\Delta\mu`. Its gradients are
:math:`\partial \Delta G / \partial x = \partial E / \partial x` and
:math:`\partial \Delta G / \partial q_i = \partial E / \partial q_i - \mu_{Z_i}`: the
first-order free energy of inserting (or removing) candidate i where it stands. At
:math:`q \in \{0, 1\}` this is the usual ab initio thermodynamics surface free energy,
per cell.

Template atoms can be made *removable*: their existence becomes a variable too, and a
removed atom goes back to its reservoir,

.. math::

    \Delta G(x, q) = E(x, q) - E_{slab} - \sum_{i \in \mathrm{cand}} q_i\, \mu_{Z_i}
                     + \sum_{i \in \mathrm{rem}} (1 - q_i)\, \mu_{Z_i},

so that :math:`\partial \Delta G / \partial q_i = \partial E / \partial q_i - \mu_{Z_i}`
for every variable existence alike. :math:`E_{slab}` stays the energy of the whole
template: a removal is measured from the surface as given.
"""

from collections.abc import Mapping

import numpy as np

from .energy import energy, energy_and_gradients
from .system import check_atoms, check_existence, check_model, check_real

__all__ = ["gibbs_free_energy", "chemical_potentials", "free_energy", "structure_free_energy", "check_mu", "check_removable", "template_potentials"]


def check_mu(mu):
    """``mu`` as a dict {symbol: Δμ (float, eV)}; ``None`` is {}. Every Δμ a real, finite number."""
    if mu is None:
        return {}
    if not isinstance(mu, Mapping):
        raise ValueError(f"mu must be a mapping {{symbol: Δμ in eV}}, got {mu!r}")
    return {s: check_real(value, f"chemical potential for {s}") for s, value in mu.items()}


def chemical_potentials(model, mu):
    """Absolute μ_Z = μ_Z^ref + Δμ_Z (eV) for each species that has a reference.

    ``mu`` maps symbols to Δμ; a species not named has Δμ = 0. Naming a species the
    model does not know, or one without a reference, is an error.
    """
    mu = check_mu(mu)
    unknown = sorted(str(s) for s in mu if s not in model.species)
    if unknown:
        raise ValueError(
            f"chemical potential given for {', '.join(unknown)}, which the model does not know "
            f"(species: {', '.join(model.species)})"
        )
    no_reference = sorted(s for s in mu if s not in model.mu_ref)
    if no_reference:
        raise ValueError(f"the model has no reference chemical potential for {', '.join(no_reference)}")
    return {s: model.mu_ref[s] + mu.get(s, 0.0) for s in model.mu_ref}


def free_energy(E, q, mu_candidates, n_template, template_energy, dE_dq=None, mu_template=None):
    """ΔG from the energy E of template + candidates (the first ``n_template`` atoms are the
    template), the existences ``q`` (N,) and the candidates' absolute chemical potentials
    ``mu_candidates`` (N − n_template,); with ``dE_dq`` (N,) also ``(ΔG, ∂ΔG/∂q)``.
    ``mu_template`` (n_template,): the absolute μ of removable template atoms, each counting
    (1 − q_i) μ_i (0 for the others, whose q is 1; ``None``: nothing is removable).
    (∂ΔG/∂x is ∂E/∂x.) The one place the equation is written: the public function below,
    the optimizer's objective, its polish and the insertion map all call it."""
    dG = E - float(template_energy) - np.dot(q[n_template:], mu_candidates)
    if mu_template is not None:
        dG = dG + np.dot(1.0 - q[:n_template], mu_template)
    if dE_dq is None:
        return dG
    dG_dq = np.array(dE_dq, dtype=float)
    dG_dq[n_template:] -= mu_candidates
    if mu_template is not None:
        dG_dq[:n_template] -= mu_template
    return dG, dG_dq


def structure_free_energy(E, template_energy, added, removed, mu):
    """ΔG (eV) of an ordinary structure, every atom at q = 1, with energy ``E``: the template
    less the ``removed`` template atoms, plus the ``added`` atoms (both {symbol: count}); ``mu``
    the absolute μ of each symbol. Through :func:`free_energy`: the removed atoms are template
    atoms at q = 0, each counting its μ (the template atoms still present count nothing)."""
    mu_added = np.array([mu[s] for s, n in added.items() for _ in range(n)], dtype=float)
    mu_removed = np.array([mu[s] for s, n in removed.items() for _ in range(n)], dtype=float)
    q = np.r_[np.zeros(len(mu_removed)), np.ones(len(mu_added))]
    return float(free_energy(E, q, mu_added, len(mu_removed), template_energy, mu_template=mu_removed))


def check_removable(removable, n_template):
    """``removable`` as a sorted tuple of distinct template indices in [0, n_template)."""
    try:
        items = list(removable)
    except TypeError:
        raise ValueError(f"removable must be a sequence of template atom indices, got {removable!r}") from None
    for i in items:
        if not isinstance(i, (int, np.integer)) or isinstance(i, bool) or not 0 <= i < n_template:
            raise ValueError(f"removable atoms must be template atom indices in [0, {n_template}), got {i!r}")
    if len(set(items)) != len(items):
        raise ValueError("removable atoms must be distinct: an index is given twice")
    return tuple(sorted(int(i) for i in items))


def template_potentials(symbols, removable, chem):
    """(n_template,) absolute μ of the removable template atoms, 0 for the others; ``None``
    when nothing is removable (see :func:`free_energy`)."""
    if not removable:
        return None
    missing = sorted({symbols[i] for i in removable} - set(chem))
    if missing:
        raise ValueError(f"the model has no reference chemical potential for removable species {', '.join(missing)}")
    mu_t = np.zeros(len(symbols))
    for i in removable:
        mu_t[i] = chem[symbols[i]]
    return mu_t


def gibbs_free_energy(model, atoms, q, mu, n_template, template_energy=None, *, removable=(), neighbors=None):
    """``(dG, dG_dx, dG_dq)`` of ``atoms`` whose first ``n_template`` atoms are the template.

    ``q`` has one value per atom (``None``: ``atoms.arrays["existence"]`` or all ones);
    the template's must be 1, except for the template atoms whose indices are in
    ``removable``, which count (1 − q_i) μ_i. ``mu`` is {symbol: Δμ in eV}.
    ``template_energy`` defaults to the model's energy of ``atoms[:n_template]`` as given,
    every atom present (pass the relaxed template's energy to follow docs/method.md, "The
    Gibbs free energy", exactly). ``dG_dq`` has shape (N,); the entries of template atoms
    that are not removable are ∂E/∂q_i, for information, since their q is fixed.
    """
    check_model(model)
    n = len(check_atoms(atoms))
    if not (isinstance(n_template, (int, np.integer)) and 0 <= n_template <= n):
        raise ValueError(f"n_template must be an integer in [0, {n}], got {n_template!r}")
    if q is None:
        q = atoms.arrays.get("existence", np.ones(n))
    q = check_existence(q, n)
    removable = check_removable(removable, n_template)
    fixed_q = np.ones(n_template, bool)
    fixed_q[list(removable)] = False
    if not np.all(q[:n_template][fixed_q] == 1.0):
        k = int(np.flatnonzero(fixed_q & (q[:n_template] != 1.0))[0])
        raise ValueError(f"template atoms must have q = 1 unless they are removable; atom {k} has q = {q[k]}")
    chem = chemical_potentials(model, mu)
    if template_energy is not None:
        template_energy = check_real(template_energy, "template_energy")
    E, dE_dx, dE_dq = energy_and_gradients(model, atoms, q, neighbors=neighbors)  # checks species
    all_symbols = atoms.get_chemical_symbols()
    symbols = all_symbols[n_template:]
    missing = sorted(set(symbols) - set(chem))
    if missing:
        raise ValueError(f"the model has no reference chemical potential for candidate species {', '.join(missing)}")
    mu_t = template_potentials(all_symbols[:n_template], removable, chem)
    if template_energy is None:
        template_energy = energy(model, atoms[:n_template], np.ones(n_template)) if n_template else 0.0
    mu_c = np.array([chem[s] for s in symbols], dtype=float)  # (N - n_template,)
    dG, dG_dq = free_energy(E, q, mu_c, n_template, template_energy, dE_dq, mu_t)
    return float(dG), dE_dx, dG_dq
