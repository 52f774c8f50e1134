"""Labellers for tests/test_validate.py, importable as ``module:factory`` specs."""

from ase.calculators.emt import EMT

CALLS = {"n": 0}  # energy evaluations of the counting labeller in this process


class Counting(EMT):
    def calculate(self, atoms=None, properties=("energy",), system_changes=None):
        CALLS["n"] += 1
        super().calculate(atoms, properties, system_changes or [])


class Flaky(EMT):
    """EMT that raises on structures of more than 16 atoms with an odd count."""

    def calculate(self, atoms=None, properties=("energy",), system_changes=None):
        if len(atoms) > 16 and len(atoms) % 2:
            raise RuntimeError("SCF did not converge")
        super().calculate(atoms, properties, system_changes or [])


class NoOxygen(EMT):
    def calculate(self, atoms=None, properties=("energy",), system_changes=None):
        if "O" in atoms.get_chemical_symbols():
            raise NotImplementedError("no parameters for O")
        super().calculate(atoms, properties, system_changes or [])


def counting():
    return Counting()


def flaky():
    return Flaky()


def no_oxygen():
    return NoOxygen()
