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
"""

from collections.abc import Mapping

import numpy as np

from .energy import energy, energy_and_gradients
from .system import check_atoms, check_existence, check_model, check_real

__all__ = ["gibbs_free_energy", "chemical_potentials", "free_energy", "check_mu"]


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


def free_energy(E, q, mu_candidates, n_template, template_energy, dE_dq=None):
    """ΔG from the energy E of template + candidates (the first ``n_template`` atoms are the
    template), the existences ``q`` (N,) and the candidates' absolute chemical potentials
    ``mu_candidates`` (N − n_template,); with ``dE_dq`` (N,) also ``(ΔG, ∂ΔG/∂q)``.
    (∂ΔG/∂x is ∂E/∂x.) The one place the equation is written: the public function below,
    the optimizer's objective and the insertion map all call it."""
    dG = E - float(template_energy) - np.dot(q[n_template:], mu_candidates)
    if dE_dq is None:
        return dG
    dG_dq = np.array(dE_dq, dtype=float)
    dG_dq[n_template:] -= mu_candidates
    return dG, dG_dq


def gibbs_free_energy(model, atoms, q, mu, n_template, template_energy=None, *, neighbors=None):
    """``(dG, dG_dx, dG_dq)`` of ``atoms`` whose first ``n_template`` atoms are the template.

    ``q`` has one value per atom (``None``: ``atoms.arrays["existence"]`` or all ones);
    the template's must be 1. ``mu`` is {symbol: Δμ in eV}. ``template_energy`` defaults
    to the model's energy of ``atoms[:n_template]`` as given (pass the relaxed
    template's energy to follow docs/method.md, "The Gibbs free energy", exactly). ``dG_dq`` has shape (N,); its
    template entries are ∂E/∂q_i, for information, since the template's q is fixed.
    """
    check_model(model)
    n = len(check_atoms(atoms))
    if not (isinstance(n_template, (int, np.integer)) and 0 <= n_template <= n):
        raise ValueError(f"n_template must be an integer in [0, {n}], got {n_template!r}")
    if q is None:
        q = atoms.arrays.get("existence", np.ones(n))
    q = check_existence(q, n)
    if not np.all(q[:n_template] == 1.0):
        k = int(np.flatnonzero(q[:n_template] != 1.0)[0])
        raise ValueError(f"template atoms must have q = 1; atom {k} has q = {q[k]}")
    chem = chemical_potentials(model, mu)
    if template_energy is not None:
        template_energy = check_real(template_energy, "template_energy")
    E, dE_dx, dE_dq = energy_and_gradients(model, atoms, q, neighbors=neighbors)  # checks species
    symbols = atoms.get_chemical_symbols()[n_template:]
    missing = sorted(set(symbols) - set(chem))
    if missing:
        raise ValueError(f"the model has no reference chemical potential for candidate species {', '.join(missing)}")
    if template_energy is None:
        template_energy = energy(model, atoms[:n_template], np.ones(n_template)) if n_template else 0.0
    mu_c = np.array([chem[s] for s in symbols], dtype=float)  # (N - n_template,)
    dG, dG_dq = free_energy(E, q, mu_c, n_template, template_energy, dE_dq)
    return float(dG), dE_dx, dG_dq
