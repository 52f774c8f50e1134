"""Labellers for tests/test_validate.py, importable as ``module:factory`` specs."""

from ase.calculators.emt import EMT

CALLS = {"n": 0}  # energy evaluations of the counting labeller in this process
FAIL_ON = set()  # atom counts the size-failing labeller raises on


STOP_AFTER = {"n": None}  # the counting labeller interrupts (KeyboardInterrupt) after this many calls


class Counting(EMT):
    def calculate(self, atoms=None, properties=("energy",), system_changes=None):
        CALLS["n"] += 1
        if STOP_AFTER["n"] is not None and CALLS["n"] > STOP_AFTER["n"]:
            raise KeyboardInterrupt  # as Ctrl-C would, in the middle of labelling
        super().calculate(atoms, properties, system_changes or [])


class Flaky(EMT):
    """EMT that raises on structures of more than 16 atoms with an odd count."""

    def calculate(self, atoms=None, properties=("energy",), system_changes=None):
        if len(atoms) > 16 and len(atoms) % 2:
            raise RuntimeError("SCF did not converge")
        super().calculate(atoms, properties, system_changes or [])


class FailOnSize(EMT):
    """EMT that raises on structures whose atom count is in ``FAIL_ON``."""

    def calculate(self, atoms=None, properties=("energy",), system_changes=None):
        if len(atoms) in FAIL_ON:
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


def fail_on_size():
    return FailOnSize()
