r"""Bulk compounds, the limit of a surface phase diagram.

A surface oxide on Cu(110) is only a surface phase while bulk copper is stable. Once the
oxygen chemical potential pays for a bulk oxide, the whole crystal oxidises (Reuter &
Scheffler, Phys. Rev. B 65, 035406 (2001)). A compound with :math:`n_X` atoms of each
element X per formula unit has the formation energy

.. math:: \Delta H_f = E(\text{compound}) - \sum_X n_X\, \mu_X^\mathrm{ref},

with the same references :math:`\mu^\mathrm{ref}` as ΔG (½E(O₂), E(bulk Cu)/atom); zero-point
energies and the solids' vibrational free energies are left out, as they are for the surface.
In contact with reservoirs at :math:`\Delta\mu_X` the compound is stable once
:math:`\sum_X n_X \Delta\mu_X \ge \Delta H_f`: with every other Δμ fixed, above

.. math:: \Delta\mu_\mathrm{O}^\ast = \Big(\Delta H_f - \sum_{X \ne \mathrm{O}} n_X \Delta\mu_X\Big) / n_\mathrm{O}.

The lowest :math:`\Delta\mu^\ast` over the compounds is where a surface phase diagram ends
(:func:`limit`). The labeller's formation energies are computed with its references
(:func:`formation_energies`: each crystal relaxed with its cell) and stored in the model
file (``Model.bulk_phases``), so a diagram made with a model is bounded by its labeller.

:data:`CRYSTALS` holds the compounds refgc knows: Cu₂O (cuprite) and CuO (tenorite), at
their experimental lattices before relaxation. Add a compound by adding a function.
"""

from ase.spacegroup import crystal

__all__ = ["CRYSTALS", "compounds", "formation_energies", "limit", "check_bulk_phases"]


def cuprite():
    """Cu₂O, Pn-3m (224), a = 4.27 Å: O at 2a, Cu at 4b (origin choice 2); Cu₄O₂."""
    return crystal(["O", "Cu"], basis=[(0.25, 0.25, 0.25), (0.0, 0.0, 0.0)], spacegroup=224, setting=2,
                   cellpar=[4.2696, 4.2696, 4.2696, 90, 90, 90])


def tenorite():
    """CuO, C2/c (15), a = 4.684, b = 3.423, c = 5.129 Å, β = 99.54°: Cu at 4c, O at 4e; Cu₄O₄."""
    return crystal(["Cu", "O"], basis=[(0.25, 0.25, 0.0), (0.0, 0.4184, 0.25)], spacegroup=15,
                   cellpar=[4.6837, 3.4226, 5.1288, 90, 99.54, 90])


CRYSTALS = {"Cu2O": cuprite, "CuO": tenorite}  # formula: the crystal's unrelaxed conventional cell


def compounds(species):
    """The compounds of :data:`CRYSTALS` made only of ``species``, with at least two elements."""
    out = []
    for name, make in CRYSTALS.items():
        elements = set(make().get_chemical_symbols())
        if len(elements) > 1 and elements <= set(species):
            out.append(name)
    return out


def formula_units(atoms):
    """{element: atoms per formula unit} of a crystal, the counts divided by their gcd."""
    from math import gcd

    counts = {}
    for s in atoms.get_chemical_symbols():
        counts[s] = counts.get(s, 0) + 1
    g = 0
    for n in counts.values():
        g = gcd(g, n)
    return {s: n // g for s, n in sorted(counts.items())}, g


def formation_energies(calc, mu_ref, names=None, fmax=0.01, labeller=None):
    """{name: {"formula", "formation_energy", "energy", "labeller"}} of the compounds ``names``
    (default: every compound of :data:`CRYSTALS` made of the species in ``mu_ref``), each
    relaxed with ``calc`` and its cell. Energies in eV per formula unit."""
    from .labeller import relax_with

    names = compounds(mu_ref) if names is None else list(names)
    out = {}
    for name in names:
        if name not in CRYSTALS:
            raise ValueError(f"unknown compound {name!r}: refgc knows {sorted(CRYSTALS)}")
        relaxed, energy, _ = relax_with(calc, CRYSTALS[name](), fmax=fmax, cell=True)
        formula, n_units = formula_units(relaxed)
        missing = sorted(set(formula) - set(mu_ref))
        if missing:
            raise ValueError(f"{name}: no reference chemical potential for {missing}")
        e_unit = energy / n_units
        out[name] = {"formula": formula, "energy": e_unit,
                     "formation_energy": e_unit - sum(n * mu_ref[s] for s, n in formula.items()),
                     "volume": relaxed.get_volume() / n_units, "labeller": labeller}
    return out


def check_bulk_phases(bulk_phases, species):
    """``bulk_phases`` as stored in a model file, checked: a mapping of compound name to
    ``formula`` ({element: count}) and ``formation_energy`` (eV per formula unit)."""
    from .system import check_real

    if not isinstance(bulk_phases, dict):
        raise ValueError(f"bulk_phases must be a mapping of compound to its data, got {type(bulk_phases).__name__}")
    for name, phase in bulk_phases.items():
        if not isinstance(phase, dict) or not isinstance(phase.get("formula"), dict) or "formation_energy" not in phase:
            raise ValueError(f"bulk_phases[{name!r}] needs a 'formula' mapping and a 'formation_energy'")
        unknown = sorted(set(phase["formula"]) - set(species))
        if unknown:
            raise ValueError(f"bulk_phases[{name!r}] has elements the model does not know: {unknown}")
        check_real(phase["formation_energy"], f"bulk_phases[{name!r}] formation_energy")
    return bulk_phases


def limit(bulk_phases, species, mu=None):
    """Where the first compound becomes stable as Δμ of ``species`` rises, the other Δμ held
    at ``mu`` (default 0): ``(Δμ*, name)``, or ``(inf, None)`` when no compound contains
    ``species``."""
    mu = mu or {}
    best = (float("inf"), None)
    for name, phase in bulk_phases.items():
        n = phase["formula"].get(species, 0)
        if n <= 0:
            continue
        others = sum(k * mu.get(s, 0.0) for s, k in phase["formula"].items() if s != species)
        best = min(best, ((phase["formation_energy"] - others) / n, name), key=lambda b: b[0])
    return best
