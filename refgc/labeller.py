"""Labellers: the reference method a model is distilled from and checked against.

A labeller is any ASE calculator. refgc names the common ones by a short *spec*:

==================  =====================================================================
``emt``             ASE's EMT (Al, Cu, Ag, Au, Ni, Pd, Pt, H, C, N, O): fast, for tests
``sevenn:MODEL``    SevenNet (``pip install sevenn``), e.g. ``sevenn:7net-0``, on the CPU
``mace_mp:MODEL``   MACE-MP (``pip install mace-torch``), e.g. ``mace_mp:small``, float64
``module:factory``  any importable function that takes no arguments and returns an ASE
                    calculator, e.g. ``mypackage.calculators:dft``
==================  =====================================================================

:func:`labeller` turns a spec into a :class:`Labeller`: a picklable factory, so that worker
processes build their own calculator. :func:`references` computes the labeller's own
reference chemical potentials, as the model's were computed with its labeller:

* a gas-phase element (H, N, O) has μ^ref = ½ E(X₂), the relaxed dimer in vacuum;
* any other element has μ^ref = E/atom of its bulk crystal (ASE's reference state,
  ``ase.build.bulk``) with the atoms and the cell relaxed (``FrechetCellFilter``).
"""

import importlib

from ase import Atoms
from ase.build import bulk
from ase.filters import FrechetCellFilter
from ase.optimize import BFGS

__all__ = ["Labeller", "labeller", "references", "relax_with", "GASES"]

#: Elements whose reference is half the relaxed dimer, and the dimer's starting bond (Å).
GASES = {"H": 0.74, "N": 1.10, "O": 1.21}


class Labeller:
    """A picklable factory of one ASE calculator, named by its spec; ``Labeller()()`` makes
    the calculator."""

    def __init__(self, spec):
        self.spec = spec
        self.kind, _, self.arg = spec.partition(":")

    def __repr__(self):
        return f"Labeller({self.spec!r})"

    def __call__(self):
        if self.kind == "emt":
            from ase.calculators.emt import EMT

            return EMT()
        if self.kind == "sevenn":
            import warnings

            warnings.filterwarnings("ignore", message=".*accelerator.*")
            from sevenn.calculator import SevenNetCalculator

            return SevenNetCalculator(self.arg, device="cpu")
        if self.kind == "mace_mp":
            from mace.calculators import mace_mp

            return mace_mp(model=self.arg, device="cpu", default_dtype="float64")
        module = importlib.import_module(self.kind)
        return getattr(module, self.arg)()


#: Spec kind -> (the package it needs, how to install it)
_NEEDS = {"sevenn": ("sevenn", "pip install sevenn"), "mace_mp": ("mace", "pip install mace-torch")}


def labeller(spec):
    """The :class:`Labeller` for ``spec`` (see the module docstring), checked now: an unknown
    spec, a missing package or a ``module:factory`` that does not import is a one-line
    ``ValueError``, before any work is done."""
    if not isinstance(spec, str) or not spec:
        raise ValueError(f"a labeller spec must be a non-empty string, got {spec!r}")
    kind, sep, arg = spec.partition(":")
    if kind == "emt":
        if sep:
            raise ValueError(f"labeller {spec!r}: emt takes no model name; give emt")
        return Labeller(spec)
    if kind in _NEEDS:
        if not arg:
            raise ValueError(f"labeller {spec!r}: name the model, e.g. sevenn:7net-0 or mace_mp:small")
        package, install = _NEEDS[kind]
        if importlib.util.find_spec(package) is None:
            raise ValueError(f"labeller {spec!r} needs the {package} package ({install})")
        return Labeller(spec)
    if not sep or not arg:
        raise ValueError(f"unknown labeller {spec!r}: give emt, sevenn:MODEL, mace_mp:MODEL or module:factory")
    try:
        factory = getattr(importlib.import_module(kind), arg)
    except (ImportError, AttributeError) as err:
        raise ValueError(f"labeller {spec!r}: cannot import {arg} from {kind} ({err})") from None
    if not callable(factory):
        raise ValueError(f"labeller {spec!r}: {kind}.{arg} is not callable")
    return Labeller(spec)


def relax_with(calc, atoms, fmax=0.05, steps=500, cell=False):
    """A relaxed copy of ``atoms`` with ``calc`` (ASE's BFGS; ``FixAtoms`` respected; the
    cell too with ``cell=True``): ``(relaxed, energy, steps taken)``. No log is written."""
    atoms = atoms.copy()
    atoms.calc = calc
    target = FrechetCellFilter(atoms) if cell else atoms
    optimizer = BFGS(target, logfile=None)
    optimizer.run(fmax=fmax, steps=steps)
    energy = float(atoms.get_potential_energy())
    atoms.calc = None
    return atoms, energy, optimizer.nsteps


def references(calc, species, fmax=0.01):
    """{symbol: μ^ref in eV} of ``calc`` for each of ``species``: ½ E(X₂) of the relaxed
    dimer for the elements of :data:`GASES`, E/atom of the relaxed bulk crystal for the
    others. A species ASE has no reference crystal for is a one-line ``ValueError``."""
    out = {}
    for symbol in species:
        if symbol in GASES:
            dimer = Atoms(symbol * 2, positions=[[0.0, 0.0, 0.0], [0.0, 0.0, GASES[symbol]]], cell=[12.0] * 3)
            dimer.center()
            _, energy, _ = relax_with(calc, dimer, fmax=fmax)
            out[symbol] = energy / 2
            continue
        try:
            crystal = bulk(symbol)
        except (ValueError, KeyError, NotImplementedError) as err:
            raise ValueError(f"no reference crystal for {symbol} in ASE ({err}): give the labeller's "
                             "references yourself") from None
        relaxed, energy, _ = relax_with(calc, crystal, fmax=fmax, cell=True)
        out[symbol] = energy / len(relaxed)
    return {s: float(v) for s, v in out.items()}

